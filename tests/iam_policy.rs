//! `berth iam-policy` proven on the rig: the emulator gives an access key exactly the policy
//! berth generated and refuses every call it does not allow (action, and resource where IAM
//! scopes one). A whole `ship` (and `berth logs`) then works under that key, and with any
//! one statement taken out, some step is refused: the policy is sufficient, and minimal at
//! statement level.

mod support;

use support::{EcsService, KubeCluster, PARAMETER_STACK, Project, Rig, WEB_DEPLOYMENT, sh};

const CONTAINERS: &str = r#"[{"name":"web","image":"busybox:stable","memory":128,"essential":true,"logConfiguration":{"logDriver":"awslogs","options":{"awslogs-group":"/iam/web","awslogs-stream-prefix":"web","awslogs-region":"us-east-1"}}}]"#;

fn set_policy(key: &str, policy: &serde_json::Value) {
    let endpoint = std::env::var("AWS_ENDPOINT_URL").unwrap();
    let doc = serde_json::json!({"key": key, "policy": policy});
    sh(&[
        "curl",
        "-sf",
        "-XPOST",
        &format!("{endpoint}/_rig/policies"),
        "-d",
        &doc.to_string(),
    ]);
}

#[test]
fn a_ship_runs_under_exactly_the_generated_policy_and_needs_every_statement() {
    let rig = Rig::get();
    let s = EcsService::create(
        &rig,
        CONTAINERS,
        &[
            "--cpu",
            "256",
            "--memory",
            "512",
            "--execution-role-arn",
            "arn:aws:iam::123456789012:role/ecsTaskExecutionRole",
        ],
        &[
            "--deployment-configuration",
            "maximumPercent=200,minimumHealthyPercent=100",
        ],
    );
    let cluster = KubeCluster::create(&rig);
    let (repo, stack) = (rig.unique("e2e/iam"), rig.unique("iam-stack"));
    let p = Project::new();
    p.write("infra.yaml", PARAMETER_STACK)
        .write("app/Dockerfile", "FROM busybox:stable\n")
        .write("k8s/web.yaml", WEB_DEPLOYMENT)
        .write(
            "berth.yaml",
            &format!(
                "version: 1\nproject: e2e\nimages:\n  web: {{ context: app, repository: {repo}, tags: ['${{env.IAM_TAG:-v0}}'] }}\ntargets:\n  svc:\n    ecs: {{ cluster: {}, service: {}, containers: {{ web: web }}, poll_interval: 1s, timeout: 1m }}\n  app:\n    eks: {{ cluster: {}, namespace: default, manifests: [k8s], timeout: 1m }}\n  stack:\n    cloudformation: {{ stack: {stack}, template: infra.yaml, parameters: {{ ImageUri: \"${{images.web.ref}}\" }}, timeout: 1m }}\n",
                s.cluster, s.name, cluster.name
            ),
        );
    let key = format!("AKIAIAMPOL{}", std::process::id());
    let kubeconfig = cluster.kubeconfig();
    let env = [
        ("AWS_ACCESS_KEY_ID", key.as_str()),
        ("KUBECONFIG", kubeconfig.to_str().unwrap()),
    ];
    let generated = p.berth_env(&["iam-policy", "-o", "json"], &env);
    generated.assert_code(0);
    let doc = generated.json();
    assert_eq!(doc["policies"].as_array().unwrap().len(), 1, "{doc}");
    assert_eq!(doc["policies"][0]["account"], "123456789012");
    let policy = doc["policies"][0]["policy"].clone();
    assert_eq!(doc["rbac"][0]["role"]["kind"], "Role");

    // A fresh image each time, so every run pushes, registers and rolls out.
    let mut n = 0;
    let mut exercise = |policy: &serde_json::Value| -> Vec<String> {
        set_policy(&key, policy);
        n += 1;
        p.write(
            "app/Dockerfile",
            &format!("FROM busybox:stable\nLABEL iam={repo}-{n}\n"),
        );
        let tag = format!("v{n}");
        let env: Vec<(&str, &str)> = env
            .iter()
            .copied()
            .chain([("IAM_TAG", tag.as_str())])
            .collect();
        let ship = p.berth_env(&["ship"], &env);
        let logs = p.berth_env(&["logs", "svc", "-n", "1"], &env);
        [ship, logs]
            .into_iter()
            .filter(|r| r.code != Some(0))
            .map(|r| r.stderr)
            .collect()
    };
    let failed = exercise(&policy);
    assert!(failed.is_empty(), "under the generated policy: {failed:?}");

    let statements = policy["Statement"].as_array().unwrap().clone();
    assert!(statements.len() >= 8, "{policy}");
    for (i, st) in statements.iter().enumerate() {
        let mut fewer = policy.clone();
        fewer["Statement"].as_array_mut().unwrap().remove(i);
        let failed = exercise(&fewer);
        assert!(
            failed
                .iter()
                .any(|e| e.contains("AccessDenied") || e.contains("not authorized")),
            "without statement {}, nothing was refused: {failed:?}",
            st["Sid"]
        );
    }
}
