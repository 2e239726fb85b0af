//! The engine: what to do ([`plan`]), in what order, and what it reports ([`events`]).
//!
//! The engine never sees an AWS, bollard or kube type: adapters are reached through the small
//! traits defined next to the steps that use them.

pub mod events;
pub mod plan;
