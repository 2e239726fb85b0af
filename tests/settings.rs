//! Settings berth takes from the command line and the environment, against the rig: which
//! AWS identity is used, and what bad settings do (exit 2 before anything starts).

mod support;

use support::{Project, Rig, aws_calls_with_key};

/// A project with one CloudFormation target (`status` reads it, which is enough to see
/// which identity berth calls AWS with), and AWS config files with a profile `ci`.
fn project(rig: &Rig, profile_key: &str) -> Project {
    let p = Project::new();
    p.write(
        "infra/t.yaml",
        "Resources:\n  P:\n    Type: AWS::SSM::Parameter\n    Properties: {Type: String, Value: x}\n",
    )
    .write(
        "berth.yaml",
        &format!(
            "version: 1\nproject: e2e\ntargets:\n  app:\n    cloudformation: {{ stack: {}, template: infra/t.yaml }}\n",
            rig.unique("settings")
        ),
    )
    .write(
        "aws/credentials",
        &format!("[ci]\naws_access_key_id = {profile_key}\naws_secret_access_key = rig\n"),
    )
    .write("aws/config", "[profile ci]\nregion = us-east-1\n");
    p
}

fn aws_files(p: &Project) -> [(String, String); 2] {
    let path = |f: &str| p.path().join("aws").join(f).display().to_string();
    [
        ("AWS_SHARED_CREDENTIALS_FILE".into(), path("credentials")),
        ("AWS_CONFIG_FILE".into(), path("config")),
    ]
}

fn env<'a>(
    files: &'a [(String, String); 2],
    extra: &[(&'a str, &'a str)],
) -> Vec<(&'a str, &'a str)> {
    let mut e: Vec<(&str, &str)> = files
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    e.extend_from_slice(extra);
    e
}

/// `--profile` wins over keys in the environment, as `aws --profile` does.
#[test]
fn an_explicit_profile_wins_over_keys_in_the_environment() {
    let rig = Rig::get();
    let profile_key = format!("AKIARIGPROFILE{}", std::process::id());
    let env_key = format!("AKIARIGENVKEYS{}", std::process::id());
    let p = project(&rig, &profile_key);
    let files = aws_files(&p);
    p.berth_env(
        &["status", "--profile", "ci"],
        &env(&files, &[("AWS_ACCESS_KEY_ID", &env_key)]),
    );
    assert!(
        !aws_calls_with_key(&profile_key).is_empty(),
        "the profile's key made the calls"
    );
    assert!(
        aws_calls_with_key(&env_key).is_empty(),
        "the environment's key made none"
    );
}

/// An unknown profile, or an empty region or profile, is invalid input: exit 2 with a hint,
/// before any AWS call.
#[test]
fn unknown_profiles_and_empty_settings_are_invalid_input() {
    let rig = Rig::get();
    let env_key = format!("AKIARIGBADSET{}", std::process::id());
    let p = project(&rig, "AKIARIGUNUSED");
    let files = aws_files(&p);
    let env = env(&files, &[("AWS_ACCESS_KEY_ID", &env_key)]);
    p.berth_env(&["status", "--profile", "cj"], &env)
        .assert_code(2)
        .assert_stderr(&["unknown AWS profile `cj`", "did you mean `ci`?"]);
    p.berth_env(&["deploy", "--profile", "nope"], &env)
        .assert_code(2)
        .assert_stderr(&["unknown AWS profile `nope`", "profiles: ci"]);
    p.berth_env(&["deploy", "--region", ""], &env)
        .assert_code(2)
        .assert_stderr(&["the AWS region is empty", "hint:"]);
    p.berth_env(&["plan", "--profile", ""], &env)
        .assert_code(2)
        .assert_stderr(&["the AWS profile is empty"]);
    assert!(
        aws_calls_with_key(&env_key).is_empty(),
        "{:?}",
        aws_calls_with_key(&env_key)
    );
}

/// `-vv` shows every AWS request with its answer; `-v` and no flag do not.
#[test]
fn double_verbose_shows_each_aws_request() {
    let rig = Rig::get();
    let p = project(&rig, "AKIARIGUNUSED");
    let run = p.berth(&["status", "-vv"]);
    assert!(
        run.stderr.contains("DescribeStacks → 400 in "),
        "{}",
        run.stderr
    );
    for quiet in [&["status", "-v"][..], &["status"][..]] {
        let run = p.berth(quiet);
        assert!(!run.stderr.contains("DescribeStacks →"), "{}", run.stderr);
    }
}
