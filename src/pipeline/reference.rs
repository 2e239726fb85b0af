//! Image references: exactly which image a target deploys.

/// An image as a target deploys it: the repository and exactly which image.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageRef {
    /// Repository URI as ECR reports it.
    pub uri: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
}

impl ImageRef {
    /// `uri@digest` when the digest is known (what deploys should pin), else `uri:tag`.
    pub fn reference(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(d), _) => format!("{}@{d}", self.uri),
            (None, Some(t)) => format!("{}:{t}", self.uri),
            (None, None) => self.uri.clone(),
        }
    }
}
