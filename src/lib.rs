//! berth: build container images, push them to Amazon ECR, deploy them to ECS,
//! CloudFormation and EKS — from one pipeline file.
//!
//! The crate is laid out by concern, so the folders read as the architecture:
//! - [`cli`]: the command line (clap) and the dispatch of commands;
//! - [`pipeline`]: the pipeline file — parse, merge environments, interpolate, validate;
//! - [`engine`]: the plan of steps, their order, and the events they report;
//! - [`output`]: the one printer that owns stdout and stderr;
//! - [`error`]: the one error type, its rendering and exit codes;
//! - adapters, one per outside system, reached by the engine through the traits in
//!   [`engine::ports`]: [`docker`] (builds and daemon pushes, bollard), [`ecr`] (repositories
//!   and credentials, AWS SDK), [`registry`] (an OCI distribution client), [`ecs`],
//!   [`cloudformation`] and [`eks`] (one deployer per target kind); [`aws`] builds the AWS
//!   SDK configuration in one place and maps AWS errors to error kinds; [`iam`] lists the
//!   permissions those adapters need (`berth iam-policy`);
//! - at the bottom, used by all: [`source`] (files and positions), [`style`] (colours),
//!   [`encode`], [`jsondiff`].
//!
//! Imports point down only (cli → output → adapters → engine → pipeline → base); the
//! layering is checked by `tests/architecture.rs` and described in `docs/architecture.md`.

pub mod aws;
pub mod cli;
pub mod cloudformation;
pub mod docker;
pub mod ecr;
pub mod ecs;
pub mod eks;
pub mod encode;
pub mod engine;
pub mod error;
pub mod iam;
pub mod jsondiff;
pub mod output;
pub mod pipeline;
pub mod registry;
pub mod source;
pub mod style;
pub mod trace;
