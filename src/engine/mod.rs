//! The engine: what to do ([`plan`]), in what order and how many at once ([`executor`]), and
//! what it reports ([`events`]).
//!
//! The engine never sees an AWS, bollard or kube type: adapters are reached through the small
//! traits in [`ports`], and the image steps ([`images`]) are written against those traits only.

pub mod builders;
pub mod deploy;
pub mod diagnosis;
pub mod events;
pub mod executor;
pub mod gc;
pub mod images;
pub mod lease;
pub mod plan;
pub mod platforms;
pub mod ports;
mod replicas;
pub mod rollback;
pub mod runner;
pub mod step;
