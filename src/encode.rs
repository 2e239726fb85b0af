//! RFC 3986 percent-encoding of a URL query component: what SigV4 canonicalises with (EKS
//! tokens) and what the Docker API's query strings need (BuildKit builds). One function, so
//! both agree on the unreserved set.

/// Encodes everything but `A-Z a-z 0-9 - _ . ~`.
pub fn query_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_unreserved_characters_stay() {
        assert_eq!(super::query_component("a-Z_0.~"), "a-Z_0.~");
        assert_eq!(
            super::query_component("{\"k\":\"v w\"}/+"),
            "%7B%22k%22%3A%22v%20w%22%7D%2F%2B"
        );
    }
}
