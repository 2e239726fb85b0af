//! Several accounts in one run: the image goes to a shared-services account's ECR and two
//! targets deploy into two workload accounts, each through a role berth assumes. The rig's
//! emulator checks AssumeRole as STS does (the role exists, trusts the caller, external id)
//! and logs the account behind each call's key, so the tests check which identity made each
//! call; each account's ECR is a registry of its own that takes only its account's token,
//! and ECR replication carries images between registries as the rules say.

mod support;

use support::{EcsService, Project, Rig, assume, aws_calls_by_account, role, sh_env, writes};

/// An account of this test process's own (tests run at the same time do not share one, so
/// the emulator's log can be read by account).
fn account(n: u32) -> String {
    format!("{n}{:011}", std::process::id() as u64 % 100_000_000_000)
}

const CONTAINERS: &str =
    r#"[{"name":"web","image":"busybox:stable","memory":128,"essential":true}]"#;

/// A service in another account, made with that account's role.
fn service_in(rig: &Rig, creds: &[(String, String)]) -> EcsService {
    EcsService::create_as(
        rig,
        creds,
        CONTAINERS,
        &["--cpu", "256", "--memory", "512"],
        &[
            "--deployment-configuration",
            "maximumPercent=200,minimumHealthyPercent=100",
        ],
    )
}

/// Credentials for the aws CLI in another region.
fn in_region(mut creds: Vec<(String, String)>, region: &str) -> Vec<(String, String)> {
    creds.extend([
        ("AWS_REGION".to_string(), region.to_string()),
        ("AWS_DEFAULT_REGION".to_string(), region.to_string()),
    ]);
    creds
}

/// The task definition image of a service, read in its own account.
fn deployed_image(s: &EcsService, creds: &[(String, String)]) -> String {
    let td = sh_env(
        &[
            "aws",
            "ecs",
            "describe-services",
            "--cluster",
            &s.cluster,
            "--services",
            &s.name,
            "--query",
            "services[0].taskDefinition",
            "--output",
            "text",
        ],
        creds,
    );
    sh_env(
        &[
            "aws",
            "ecs",
            "describe-task-definition",
            "--task-definition",
            td.trim(),
            "--query",
            "taskDefinition.containerDefinitions[0].image",
            "--output",
            "text",
        ],
        creds,
    )
    .trim()
    .to_string()
}

#[test]
fn one_run_pushes_to_a_shared_account_and_deploys_into_two_others_with_assumed_roles() {
    let rig = Rig::get();
    let (shared, staging_acct, prod_acct) = (account(1), account(2), account(3));
    let (ecr_role, staging_role, prod_role) = (
        role(&shared, &rig.unique("ecr-push"), None),
        role(&staging_acct, &rig.unique("deploy"), Some("staging-ext")),
        role(&prod_acct, &rig.unique("deploy"), None),
    );
    let staging = assume(&staging_role, Some("staging-ext"));
    let prod = assume(&prod_role, None);
    let (a, b) = (service_in(&rig, &staging), service_in(&rig, &prod));
    let repo = rig.unique("e2e/xacct");
    let p = Project::new();
    p.write("app/Dockerfile", &format!("FROM busybox:stable\nLABEL x={repo}\n"))
        .write(
            "berth.yaml",
            &format!(
                "version: 1\nproject: e2e\ndefaults: {{ region: us-east-1 }}\nimages:\n  web:\n    context: app\n    tags: [v1]\n    repository: {repo}\n    ecr: {{ role_arn: '{ecr_role}' }}\ntargets:\n  staging:\n    role_arn: '{staging_role}'\n    external_id: staging-ext\n    ecs: {{ cluster: {}, service: {}, containers: {{ web: web }}, poll_interval: 1s, timeout: 1m }}\n  prod:\n    role_arn: '{prod_role}'\n    session_name: berth-prod\n    ecs: {{ cluster: {}, service: {}, containers: {{ web: web }}, poll_interval: 1s, timeout: 1m }}\n",
                a.cluster, a.name, b.cluster, b.name
            ),
        );
    let key = format!("AKIAXACCT{}", std::process::id());
    let run = p.berth_env(&["ship", "-o", "json"], &[("AWS_ACCESS_KEY_ID", &key)]);
    run.assert_code(0);
    let doc = run.json();
    assert_eq!(doc["images"][0]["account"], shared, "{doc}");
    assert_eq!(doc["images"][0]["region"], "us-east-1");
    let target = |n: &str| {
        doc["targets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == n)
            .cloned()
            .unwrap()
    };
    assert_eq!(target("staging")["account"], staging_acct);
    assert_eq!(target("prod")["account"], prod_acct);
    assert_eq!(target("prod")["region"], "us-east-1");

    // Each workload account runs the image from the shared account's registry, by digest.
    let digest = doc["images"][0]["digest"].as_str().unwrap().to_string();
    let uri = doc["images"][0]["repository_uri"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(deployed_image(&a, &staging), format!("{uri}@{digest}"));
    assert_eq!(deployed_image(&b, &prod), format!("{uri}@{digest}"));
    // The shared account's registry is not the default account's: the image is not there.
    let elsewhere = std::process::Command::new("aws")
        .args(["ecr", "describe-images", "--repository-name", &repo])
        .output()
        .unwrap();
    assert!(!elsewhere.status.success());

    // The run's own key only assumed the three roles, once each; every ECR call was made in
    // the shared account and every ECS call in a workload account.
    let own = aws_calls_by_account(|r| r["key"] == key.as_str());
    let mut assumed: Vec<_> = own.iter().map(|(s, a, _)| format!("{s}:{a}")).collect();
    assumed.sort();
    assert_eq!(
        assumed,
        ["sts:AssumeRole", "sts:AssumeRole", "sts:AssumeRole"],
        "{own:?}"
    );
    let by_role = aws_calls_by_account(|r| {
        ["ecr", "ecs"].contains(&r["service"].as_str().unwrap_or(""))
            && [&shared, &staging_acct, &prod_acct]
                .iter()
                .any(|a| r["account"] == a.as_str())
    });
    let ecr: Vec<_> = by_role.iter().filter(|(s, ..)| s == "ecr").collect();
    assert!(!ecr.is_empty());
    assert!(ecr.iter().all(|(.., acct)| *acct == shared), "{ecr:?}");
    let updates: Vec<_> = by_role
        .iter()
        .filter(|(s, a, _)| s == "ecs" && a == "UpdateService")
        .map(|(.., acct)| acct.as_str())
        .collect();
    assert!(
        updates.contains(&staging_acct.as_str()) && updates.contains(&prod_acct.as_str()),
        "{by_role:?}"
    );
    assert!(
        by_role
            .iter()
            .all(|(s, _, acct)| s != "ecs" || *acct != shared)
    );

    // gc of the shared repository asks each workload account what it runs: the image is in
    // use there, though every rule alone would delete it.
    let gc = p.berth_env(
        &[
            "gc",
            "-o",
            "json",
            "--keep-newest",
            "0",
            "--keep-younger-than",
            "0s",
        ],
        &[("AWS_ACCESS_KEY_ID", &key)],
    );
    gc.assert_code(0);
    let gc = gc.json();
    assert_eq!(gc["gc"][0]["account"], shared.as_str(), "{gc}");
    let kept = &gc["gc"][0]["images"][0];
    assert_eq!(kept["keep"]["reason"], "in_use", "{gc}");
    let by = kept["keep"]["by"].to_string();
    assert!(by.contains("staging") && by.contains("prod"), "{by}");

    // Run again: nothing to do, and still one AssumeRole per role.
    let key2 = format!("AKIAXACCTB{}", std::process::id());
    let again = p.berth_env(&["ship", "-o", "json"], &[("AWS_ACCESS_KEY_ID", &key2)]);
    again.assert_code(0);
    let again = again.json();
    assert!(
        again["targets"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["status"] == "unchanged"),
        "{again}"
    );
    let own = aws_calls_by_account(|r| r["key"] == key2.as_str());
    assert_eq!(own.len(), 3, "{own:?}");
    assert!(
        writes(
            &own.iter()
                .map(|(s, a, _)| (s.clone(), a.clone()))
                .collect::<Vec<_>>()
        )
        .iter()
        .all(|w| w == "sts:AssumeRole")
    );
}

#[test]
fn a_role_that_will_not_be_assumed_is_that_error_and_nothing_is_changed() {
    let rig = Rig::get();
    let deploy = role(&account(4), &rig.unique("deploy"), Some("right-id"));
    let creds = assume(&deploy, Some("right-id"));
    let s = service_in(&rig, &creds);
    let repo = rig.unique("e2e/xdenied");
    let p = Project::new();
    p.write("app/Dockerfile", "FROM busybox:stable\n").write(
        "berth.yaml",
        &format!(
            "version: 1\nproject: e2e\nimages:\n  web: {{ context: app, tags: [v1], repository: {repo} }}\ntargets:\n  staging:\n    role_arn: '{deploy}'\n    external_id: wrong-id\n    ecs: {{ cluster: {}, service: {}, containers: {{ web: web }} }}\n",
            s.cluster, s.name
        ),
    );
    let key = format!("AKIAXDENY{}", std::process::id());
    let run = p.berth_env(
        &["deploy", "--image", "web=busybox:stable"],
        &[("AWS_ACCESS_KEY_ID", &key)],
    );
    run.assert_code(1);
    run.assert_stderr(&[
        &format!("cannot assume the role {deploy}"),
        "AccessDenied",
        "trust policy",
        "external id",
    ]);
    let own = aws_calls_by_account(|r| r["key"] == key.as_str());
    assert!(
        own.iter().all(|(s, a, _)| s == "sts" && a == "AssumeRole"),
        "{own:?}"
    );
    assert_eq!(deployed_image(&s, &creds), "busybox:stable");
}

#[test]
fn a_target_in_another_region_waits_for_ecr_replication_and_deploys_the_replica() {
    let rig = Rig::get();
    let acct = account(5);
    let deploy_role = role(&acct, &rig.unique("deploy"), None);
    let creds = assume(&deploy_role, None);
    let repo = rig.unique("e2e/repl");
    let rules = format!(
        r#"{{"rules":[{{"destinations":[{{"region":"us-west-2","registryId":"{acct}"}}],"repositoryFilters":[{{"filter":"{repo}","filterType":"PREFIX_MATCH"}}]}}]}}"#
    );
    sh_env(
        &[
            "aws",
            "ecr",
            "put-replication-configuration",
            "--region",
            "us-east-1",
            "--replication-configuration",
            &rules,
        ],
        &creds,
    );
    let west = in_region(creds.clone(), "us-west-2");
    let s = service_in(&rig, &west);
    let p = Project::new();
    let pipeline = |region: &str| {
        format!(
            "version: 1\nproject: e2e\ndefaults: {{ region: us-east-1, role_arn: '{deploy_role}' }}\nimages:\n  web:\n    context: app\n    tags: [v1]\n    repository: {repo}\n    ecr: {{ replicate: ecr, replication_timeout: 1m }}\ntargets:\n  west:\n    region: {region}\n    ecs: {{ cluster: {}, service: {}, containers: {{ web: web }}, poll_interval: 1s, timeout: 1m }}\n",
            s.cluster, s.name
        )
    };
    p.write(
        "app/Dockerfile",
        &format!("FROM busybox:stable\nLABEL x={repo}\n"),
    )
    .write("berth.yaml", &pipeline("us-west-2"));
    let run = p.berth(&["ship", "-o", "json"]);
    run.assert_code(0);
    run.assert_stderr(&[
        "waiting for web to be replicated to us-west-2",
        "deploying the replica in us-west-2",
    ]);
    let doc = run.json();
    let digest = doc["images"][0]["digest"].as_str().unwrap().to_string();
    let source_uri = doc["images"][0]["repository_uri"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(doc["targets"][0]["region"], "us-west-2");
    // The service runs the replica, by digest, from its own region's registry.
    let image = deployed_image(&s, &west);
    assert!(image.ends_with(&format!("/{repo}@{digest}")), "{image}");
    assert!(
        !image.starts_with(&source_uri),
        "{image} is the source, not the replica"
    );
    let there = sh_env(
        &[
            "aws",
            "ecr",
            "describe-images",
            "--repository-name",
            &repo,
            "--query",
            "imageDetails[0].imageDigest",
            "--output",
            "text",
        ],
        &west,
    );
    assert_eq!(there.trim(), digest);

    // A region the rules do not replicate to: refused before anything is deployed.
    p.write("berth.yaml", &pipeline("eu-west-1"));
    let refused = p.berth(&["deploy"]);
    refused.assert_code(1);
    refused.assert_stderr(&["does not replicate", "eu-west-1", "add a replication rule"]);
}

#[test]
fn replicate_push_copies_the_image_into_the_targets_own_registry_once() {
    let rig = Rig::get();
    let (shared, workload) = (account(6), account(7));
    let ecr_role = role(&shared, &rig.unique("ecr"), None);
    let deploy_role = role(&workload, &rig.unique("deploy"), None);
    let west = in_region(assume(&deploy_role, None), "us-west-2");
    let s = service_in(&rig, &west);
    let repo = rig.unique("e2e/copy");
    let p = Project::new();
    p.write("app/Dockerfile", &format!("FROM busybox:stable\nLABEL x={repo}\n"))
        .write(
            "berth.yaml",
            &format!(
                "version: 1\nproject: e2e\ndefaults: {{ region: us-east-1 }}\nimages:\n  web:\n    context: app\n    tags: [v1]\n    repository: {repo}\n    ecr: {{ replicate: push, role_arn: '{ecr_role}' }}\ntargets:\n  west:\n    region: us-west-2\n    role_arn: '{deploy_role}'\n    ecs: {{ cluster: {}, service: {}, containers: {{ web: web }}, poll_interval: 1s, timeout: 1m }}\n",
                s.cluster, s.name
            ),
        );
    let run = p.berth(&["ship", "-o", "json"]);
    run.assert_code(0);
    run.assert_stderr(&["copied to us-west-2"]);
    let doc = run.json();
    let digest = doc["images"][0]["digest"].as_str().unwrap().to_string();
    let source_uri = doc["images"][0]["repository_uri"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(doc["images"][0]["account"], shared.as_str());
    assert_eq!(doc["targets"][0]["account"], workload.as_str());
    let image = deployed_image(&s, &west);
    assert!(image.ends_with(&format!("/{repo}@{digest}")), "{image}");
    assert!(!image.starts_with(&source_uri), "{image}");
    // The copy is a whole image in the workload account's registry, under its tag too.
    let there = sh_env(
        &[
            "aws",
            "ecr",
            "describe-images",
            "--repository-name",
            &repo,
            "--query",
            "imageDetails[0].[imageDigest,imageTags[0]]",
            "--output",
            "text",
        ],
        &west,
    );
    assert_eq!(
        there.split_whitespace().collect::<Vec<_>>(),
        [digest.as_str(), "v1"]
    );

    // Again: the replica is there, so nothing is copied and nothing is deployed.
    let again = p.berth(&["ship", "-o", "json"]);
    again.assert_code(0);
    assert!(!again.stderr.contains("copied to"), "{}", again.stderr);
    assert_eq!(again.json()["targets"][0]["status"], "unchanged");
}
