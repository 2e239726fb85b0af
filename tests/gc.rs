//! `berth gc` against the rig: one repository with six images, of which an ECS service runs
//! one (and berth recorded the one before it for rollback), an EKS Deployment and StatefulSet
//! run one and a CloudFormation stack names one. A lifecycle-style rule ("keep the newest
//! one") would delete four of them; gc keeps them and deletes only the image nobody uses.

mod support;

use support::{
    EcsService, KubeCluster, PARAMETER_STACK, Project, Rig, WEB_DEPLOYMENT, aws_text, http_status,
    set_faults,
};

const CONTAINERS: &str =
    r#"[{"name":"web","image":"busybox:stable","memory":128,"essential":true}]"#;

const STATEFUL_SET: &str = r#"apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: db
spec:
  serviceName: db
  replicas: 1
  selector:
    matchLabels: {app: db}
  template:
    metadata:
      labels: {app: db}
    spec:
      containers:
        - name: db
          image: ${images.web.ref}
"#;

fn service(rig: &Rig) -> EcsService {
    EcsService::create(
        rig,
        CONTAINERS,
        &["--cpu", "256", "--memory", "512"],
        &[
            "--deployment-configuration",
            "maximumPercent=200,minimumHealthyPercent=100",
        ],
    )
}

fn pipeline(repo: &str, tag: &str, s: &EcsService, cluster: &str, stack: &str) -> String {
    format!(
        "version: 1\nproject: e2e\nimages:\n  web: {{ context: app, repository: {repo}, tags: [{tag}] }}\ntargets:\n  svc:\n    ecs: {{ cluster: {}, service: {}, containers: {{ web: web }}, poll_interval: 1s, timeout: 1m }}\n  app:\n    eks: {{ cluster: {cluster}, namespace: default, manifests: [k8s], timeout: 1m }}\n  stack:\n    cloudformation: {{ stack: {stack}, template: infra.yaml, parameters: {{ ImageUri: \"${{images.web.ref}}\" }}, timeout: 1m }}\n",
        s.cluster, s.name
    )
}

#[test]
fn gc_keeps_every_image_in_use_and_deletes_only_the_unused_one() {
    let rig = Rig::get();
    let s = service(&rig);
    let cluster = KubeCluster::create(&rig);
    let (repo, stack) = (rig.unique("e2e/gc"), rig.unique("gc-stack"));
    let p = Project::new();
    p.write("infra.yaml", PARAMETER_STACK)
        .write("k8s/web.yaml", WEB_DEPLOYMENT)
        .write("k8s/db.yaml", STATEFUL_SET);
    // Six images, t0 (oldest) to t5 (newest).
    let mut digests = Vec::new();
    for n in 0..6 {
        p.write(
            "app/Dockerfile",
            &format!("FROM busybox:stable\nLABEL gc={repo}-{n}\n"),
        )
        .write(
            "berth.yaml",
            &pipeline(&repo, &format!("t{n}"), &s, &cluster.name, &stack),
        );
        let run = p.berth(&["push", "-o", "json"]);
        run.assert_code(0);
        digests.push(
            run.json()["images"][0]["digest"]
                .as_str()
                .unwrap()
                .to_string(),
        );
        // ECR's push times are in whole seconds: keep the order unambiguous.
        std::thread::sleep(std::time::Duration::from_millis(1100));
    }
    let uri = format!("{}/{repo}", rig.registry);
    let deploy = |target: &str, n: usize| {
        let env = [("KUBECONFIG", cluster.kubeconfig())];
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.to_str().unwrap())).collect();
        p.berth_env(
            &[
                "deploy",
                target,
                "--image",
                &format!("web={uri}@{}", digests[n]),
            ],
            &env,
        )
        .assert_code(0);
    };
    // ECS runs t2 and berth recorded t1 as its rollback point; EKS runs t3; the stack
    // names t4. t0 is used by nothing; t5 is the newest.
    deploy("svc", 1);
    deploy("svc", 2);
    deploy("app", 3);
    deploy("stack", 4);

    let gc = |extra: &[&str]| {
        let mut args = vec![
            "gc",
            "-o",
            "json",
            "--keep-newest",
            "1",
            "--keep-younger-than",
            "0s",
            "--keep-revisions",
            "1",
        ];
        args.extend_from_slice(extra);
        let run = p.berth(&args);
        run.assert_code(0);
        run.json()
    };
    let dry = gc(&[]);
    let repo_doc = &dry["gc"][0];
    assert_eq!(repo_doc["repository"], repo.as_str(), "{dry}");
    assert_eq!(repo_doc["account"], "123456789012");
    let verdict = |doc: &serde_json::Value, n: usize| {
        doc["images"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["digest"] == digests[n].as_str())
            .cloned()
            .unwrap_or_else(|| panic!("t{n} listed: {doc}"))
    };
    assert_eq!(verdict(repo_doc, 0)["action"], "delete", "{repo_doc}");
    assert!(verdict(repo_doc, 0)["keep"].is_null());
    assert_eq!(verdict(repo_doc, 5)["keep"]["reason"], "newest");
    for n in 1..=4 {
        assert_eq!(verdict(repo_doc, n)["action"], "keep", "t{n}: {repo_doc}");
        assert_eq!(
            verdict(repo_doc, n)["keep"]["reason"],
            "in_use",
            "t{n}: {repo_doc}"
        );
    }
    let by = |n: usize| verdict(repo_doc, n)["keep"]["by"].to_string();
    assert!(
        by(1).contains("svc") && by(1).contains("recorded for rollback"),
        "{}",
        by(1)
    );
    assert!(by(2).contains("svc"), "{}", by(2));
    assert!(
        by(3).contains("app") && by(3).contains("Deployment"),
        "{}",
        by(3)
    );
    assert!(by(3).contains("StatefulSet default/db"), "{}", by(3));
    assert!(by(4).contains("stack"), "{}", by(4));
    assert_eq!(repo_doc["deletable"], 1);
    assert_eq!(repo_doc["deleted"], 0);
    // A dry run deleted nothing.
    let count = || {
        aws_text(&[
            "ecr",
            "describe-images",
            "--repository-name",
            &repo,
            "--query",
            "length(imageDetails)",
        ])
    };
    assert_eq!(count(), "6");

    let done = gc(&["--delete"]);
    let repo_doc = &done["gc"][0];
    assert_eq!(verdict(repo_doc, 0)["action"], "deleted", "{repo_doc}");
    assert_eq!(repo_doc["deleted"], 1);
    assert!(repo_doc["bytes_freed"].as_u64().unwrap() > 0);
    assert_eq!(count(), "5");
    // Gone from the registry too; the kept ones still pull.
    let (user, pass) = rig.ecr_credentials();
    let manifest = |n: usize| {
        http_status(&[
            "-u",
            &format!("{user}:{pass}"),
            "-H",
            "Accept: application/vnd.docker.distribution.manifest.v2+json",
            &format!("http://{}/v2/{repo}/manifests/{}", rig.registry, digests[n]),
        ])
    };
    assert_eq!(manifest(0), "404");
    for n in 1..6 {
        assert_eq!(manifest(n), "200", "t{n}");
    }
    // Nothing left to delete: a second run deletes nothing.
    let again = gc(&["--delete"]);
    assert_eq!(again["gc"][0]["deleted"], 0);
}

#[test]
fn gc_deletes_nothing_when_a_target_cannot_be_read() {
    let rig = Rig::get();
    let s = service(&rig);
    let repo = rig.unique("e2e/gc-unreadable");
    let p = Project::new();
    p.write("app/Dockerfile", &format!("FROM busybox:stable\nLABEL gc={repo}\n"))
        .write(
            "berth.yaml",
            &format!(
                "version: 1\nproject: e2e\nimages:\n  web: {{ context: app, repository: {repo}, tags: [v1] }}\ntargets:\n  svc:\n    ecs: {{ cluster: {}, service: {}, containers: {{ web: web }} }}\n",
                s.cluster, s.name
            ),
        );
    p.berth(&["push"]).assert_code(0);
    // ECS answers every call with a server error (after berth's retries): what the service
    // runs is unknown, so nothing may go, though the rules alone would delete the image.
    let key = format!("AKIAGCUNREAD{}", std::process::id());
    set_faults(&key, r#"{"error5xx": 1.0, "only": "ecs"}"#);
    let faults = std::env::var("BERTH_RIG_FAULTS").unwrap();
    let run = p.berth_env(
        &[
            "gc",
            "--delete",
            "--keep-newest",
            "0",
            "--keep-younger-than",
            "0s",
        ],
        &[("AWS_ACCESS_KEY_ID", &key), ("AWS_ENDPOINT_URL", &faults)],
    );
    run.assert_code(1);
    run.assert_stderr(&[
        "cannot tell which images are deployed, so nothing was deleted",
        "`svc`",
    ]);
    assert_eq!(
        aws_text(&[
            "ecr",
            "describe-images",
            "--repository-name",
            &repo,
            "--query",
            "length(imageDetails)"
        ]),
        "1"
    );
}
