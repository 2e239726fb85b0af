//! The local rig itself: what the other end-to-end tests rely on. Needs `scripts/rig up` and
//! its environment (`scripts/test` provides both).

mod support;

use support::{Rig, aws_text, http_status, sh};

#[test]
fn ecr_answers_with_the_rig_registry() {
    let rig = Rig::get();
    let repo = rig.unique("rigcheck/uri");
    let uri = aws_text(&[
        "ecr",
        "create-repository",
        "--repository-name",
        &repo,
        "--query",
        "repository.repositoryUri",
    ]);
    assert_eq!(uri.trim(), format!("{}/{repo}", rig.registry));
    let endpoint = aws_text(&[
        "ecr",
        "get-authorization-token",
        "--query",
        "authorizationData[0].proxyEndpoint",
    ]);
    assert_eq!(endpoint.trim(), format!("http://{}", rig.registry));
}

#[test]
fn registry_accepts_exactly_the_ecr_token_credentials() {
    let rig = Rig::get();
    let (user, password) = rig.ecr_credentials();
    assert_eq!(user, "AWS");
    let url = format!("http://{}/v2/", rig.registry);
    let code = |auth: &str| http_status(&["-u", auth, &url]);
    assert_eq!(code(&format!("{user}:{password}")), "200");
    assert_eq!(code(&format!("{user}:{password}x")), "401");
    assert_eq!(code("someone:else"), "401");
}

#[test]
fn base_image_exists_locally() {
    Rig::get();
    let out = sh(&[
        "docker",
        "image",
        "inspect",
        "busybox:stable",
        "--format",
        "{{.Os}}",
    ]);
    assert_eq!(out.trim(), "linux");
}
