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

/// The rig is as strict as CloudFormation about IAM capabilities: a change set that creates
/// IAM resources without acknowledging them is refused (moto alone would create them).
#[test]
fn change_sets_with_iam_resources_need_their_capability() {
    let rig = Rig::get();
    let stack = rig.unique("caps");
    let role = "Resources:\n  Role:\n    Type: AWS::IAM::Role\n    Properties:\n      RoleName: rig-named\n      AssumeRolePolicyDocument: {Version: \"2012-10-17\", Statement: []}\n";
    let create = |caps: &[&str]| {
        let mut args = vec![
            "aws",
            "cloudformation",
            "create-change-set",
            "--stack-name",
            &stack,
            "--change-set-name",
            "c1",
            "--change-set-type",
            "CREATE",
            "--template-body",
            role,
        ];
        if !caps.is_empty() {
            args.push("--capabilities");
            args.extend_from_slice(caps);
        }
        std::process::Command::new(args[0])
            .args(&args[1..])
            .output()
            .unwrap()
    };
    for caps in [&[][..], &["CAPABILITY_IAM"][..]] {
        let out = create(caps);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{caps:?} must be refused");
        assert!(
            err.contains("InsufficientCapabilities") && err.contains("CAPABILITY_NAMED_IAM"),
            "{err}"
        );
    }
    assert!(create(&["CAPABILITY_NAMED_IAM"]).status.success());
    let _ = sh(&[
        "aws",
        "cloudformation",
        "delete-stack",
        "--stack-name",
        &stack,
    ]);
}
