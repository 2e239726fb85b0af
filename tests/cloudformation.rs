//! CloudFormation targets against the rig: moto's CloudFormation, extended (cfn_sim.py) so
//! change sets see parameter changes and replacements, come back empty when nothing changed,
//! and can be made to fail and roll back. End states are checked with the aws CLI.

mod support;

use support::{Project, Rig, aws_calls_with_key, aws_text, set_faults, sh, stack_field};

const TEMPLATE: &str = r#"AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  ImageUri: {Type: String}
  Channel: {Type: String, Default: stable}
Resources:
  ImageParameter:
    Type: AWS::SSM::Parameter
    Properties:
      Name: !Sub "/e2e/${AWS::StackName}/image"
      Type: String
      Value: !Ref ImageUri
  LogGroup:
    Type: AWS::Logs::LogGroup
    Properties:
      LogGroupName: !Sub "/e2e/${AWS::StackName}/${Channel}"
Outputs:
  Url:
    Value: !Sub "http://${AWS::StackName}.internal"
  Channel:
    Value: !Ref Channel
"#;

fn project(rig: &Rig, params: &str) -> (Project, String) {
    let stack = rig.unique("stack");
    let p = Project::new();
    p.write("infra/app.yaml", TEMPLATE).write(
        "berth.yaml",
        &format!("version: 1\nproject: e2e\ntargets:\n  app:\n    cloudformation:\n      stack: {stack}\n      template: infra/app.yaml\n      parameters: {{ {params} }}\n      timeout: 1m\n"),
    );
    (p, stack)
}

/// Change sets left on a stack, other than the record `berth rollback` uses.
fn change_sets(stack: &str) -> usize {
    change_set_names(stack)
        .iter()
        .filter(|s| *s != "berth-previous")
        .count()
}

fn change_set_names(stack: &str) -> Vec<String> {
    let query = format!("Summaries[?StackName=='{stack}'].ChangeSetName");
    let out = aws_text(&[
        "cloudformation",
        "list-change-sets",
        "--stack-name",
        stack,
        "--query",
        &query,
    ]);
    out.split_whitespace().map(str::to_string).collect()
}

#[test]
fn create_update_and_unchanged() {
    let rig = Rig::get();
    let (p, stack) = project(&rig, "ImageUri: repo@sha256:one");
    let run = p.berth(&["deploy", "-o", "json"]);
    run.assert_code(0);
    let doc = run.json();
    assert_eq!(doc["targets"][0]["status"], "deployed");
    assert_eq!(
        doc["targets"][0]["outputs"]["Url"],
        format!("http://{stack}.internal")
    );
    assert_eq!(
        stack_field(&stack, "Stacks[0].StackStatus"),
        "CREATE_COMPLETE"
    );

    // A new image: one resource modified in place.
    let text = std::fs::read_to_string(p.path().join("berth.yaml"))
        .unwrap()
        .replace("sha256:one", "sha256:two");
    p.write("berth.yaml", &text);
    let run = p.berth(&["deploy", "-o", "json"]);
    run.assert_code(0);
    assert!(
        run.stderr
            .contains("Modify ImageParameter (AWS::SSM::Parameter)"),
        "{}",
        run.stderr
    );
    assert_eq!(
        stack_field(
            &stack,
            "Stacks[0].Parameters[?ParameterKey=='ImageUri'].ParameterValue"
        ),
        "repo@sha256:two"
    );
    assert_eq!(
        stack_field(&stack, "Stacks[0].StackStatus"),
        "UPDATE_COMPLETE"
    );
    assert_eq!(change_sets(&stack), 0);
    assert!(
        change_set_names(&stack).contains(&"berth-previous".to_string()),
        "the version before the update is recorded for `berth rollback`"
    );

    // Nothing changed: no execution, and no change set left behind.
    let key = format!("AKIACFNNOOP{}", std::process::id());
    let run = p.berth_env(&["deploy", "-o", "json"], &[("AWS_ACCESS_KEY_ID", &key)]);
    run.assert_code(0);
    let doc = run.json();
    assert_eq!(doc["status"], "unchanged");
    assert_eq!(
        doc["targets"][0]["outputs"]["Url"],
        format!("http://{stack}.internal"),
        "outputs also when unchanged"
    );
    let calls = aws_calls_with_key(&key);
    assert!(
        !calls.iter().any(|(_, a)| a == "ExecuteChangeSet"),
        "{calls:?}"
    );
    assert_eq!(change_sets(&stack), 0);
}

#[test]
fn replacements_stand_out_and_parameters_are_kept_across_updates() {
    let rig = Rig::get();
    let (p, stack) = project(&rig, "ImageUri: img:1, Channel: beta");
    p.berth(&["deploy"]).assert_code(0);
    // Channel is no longer set by the pipeline: it keeps `beta`, not the template's default.
    let text = std::fs::read_to_string(p.path().join("berth.yaml"))
        .unwrap()
        .replace("ImageUri: img:1, Channel: beta", "ImageUri: img:2");
    p.write("berth.yaml", &text);
    p.berth(&["deploy"]).assert_code(0);
    assert_eq!(
        stack_field(
            &stack,
            "Stacks[0].Parameters[?ParameterKey=='Channel'].ParameterValue"
        ),
        "beta"
    );
    // Changing the channel renames the log group: a replacement, shown as such in the plan.
    let text = text.replace("ImageUri: img:2", "ImageUri: img:2, Channel: edge");
    p.write("berth.yaml", &text);
    let run = p.berth(&["plan", "-o", "json"]);
    run.assert_code(0);
    let lines = run.json()["targets"][0]["plan"].to_string();
    assert!(
        lines.contains("REPLACE LogGroup (AWS::Logs::LogGroup)"),
        "{lines}"
    );
    assert_eq!(change_sets(&stack), 0, "plan leaves no change set behind");
    assert_eq!(
        stack_field(
            &stack,
            "Stacks[0].Parameters[?ParameterKey=='Channel'].ParameterValue"
        ),
        "beta",
        "plan changed nothing"
    );
}

#[test]
fn a_failed_update_rolls_back_and_names_the_root_cause() {
    let rig = Rig::get();
    let (p, stack) = project(&rig, "ImageUri: img:1");
    p.berth(&["deploy"]).assert_code(0);
    let failing = TEMPLATE.replace(
        "  LogGroup:\n    Type: AWS::Logs::LogGroup\n",
        "  LogGroup:\n    Type: AWS::Logs::LogGroup\n    Metadata: { BerthRigFail: \"Resource handler returned message: LogGroup quota exceeded\" }\n",
    ).replace("Resources:\n", "Resources:\n  Queue:\n    Type: AWS::SQS::Queue\n");
    p.write("infra/app.yaml", &failing);
    let run = p.berth(&["deploy", "-o", "json"]);
    run.assert_code(3);
    let doc = run.json();
    assert_eq!(doc["status"], "rolled_back");
    let why = doc["targets"][0]["error"].as_str().unwrap();
    assert!(why.contains("first failure: LogGroup (AWS::Logs::LogGroup): Resource handler returned message: LogGroup quota exceeded"), "the root cause, not the cascade: {why}");
    assert_eq!(
        stack_field(&stack, "Stacks[0].StackStatus"),
        "UPDATE_ROLLBACK_COMPLETE"
    );
    // Rolled back as CloudFormation does: the new resource is not left behind.
    let resources = aws_text(&[
        "cloudformation",
        "describe-stack-resources",
        "--stack-name",
        &stack,
        "--query",
        "StackResources[].LogicalResourceId",
    ]);
    let mut resources: Vec<&str> = resources.split_whitespace().collect();
    resources.sort();
    assert_eq!(resources, ["ImageParameter", "LogGroup"]);
}

#[test]
fn a_stack_in_rollback_complete_is_a_clear_error() {
    let rig = Rig::get();
    let (p, stack) = project(&rig, "ImageUri: img:1");
    let failing = TEMPLATE.replace("    Type: AWS::SSM::Parameter\n", "    Type: AWS::SSM::Parameter\n    Metadata: { BerthRigFail: \"Parameter name is invalid\" }\n");
    p.write("infra/app.yaml", &failing);
    p.berth(&["deploy"]).assert_code(3);
    assert_eq!(
        stack_field(&stack, "Stacks[0].StackStatus"),
        "ROLLBACK_COMPLETE"
    );
    // Nothing of the failed creation is left behind.
    let missing = std::process::Command::new("aws")
        .args([
            "ssm",
            "get-parameter",
            "--name",
            &format!("/e2e/{stack}/image"),
        ])
        .output()
        .unwrap();
    assert!(!missing.status.success(), "the parameter was left behind");
    p.write("infra/app.yaml", TEMPLATE);
    let run = p.berth(&["deploy"]);
    run.assert_code(1);
    assert!(
        run.stderr.contains("is in ROLLBACK_COMPLETE"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("hint: delete it"), "{}", run.stderr);
}

#[test]
fn outputs_feed_a_dependent_target() {
    let rig = Rig::get();
    let first = rig.unique("base");
    let second = rig.unique("app");
    let p = Project::new();
    p.write("infra/app.yaml", TEMPLATE).write(
        "berth.yaml",
        &format!(
            "version: 1\nproject: e2e\ntargets:\n  base:\n    cloudformation: {{ stack: {first}, template: infra/app.yaml, parameters: {{ ImageUri: base }} }}\n  app:\n    cloudformation:\n      stack: {second}\n      template: infra/app.yaml\n      parameters: {{ ImageUri: \"${{targets.base.outputs.Url}}/app\" }}\n    depends_on: [base]\n"
        ),
    );
    p.berth(&["ship"]).assert_code(0);
    assert_eq!(
        stack_field(
            &second,
            "Stacks[0].Parameters[?ParameterKey=='ImageUri'].ParameterValue"
        ),
        format!("http://{first}.internal/app")
    );
}

#[test]
fn a_real_world_ecs_service_template_deploys() {
    let rig = Rig::get();
    let stack = rig.unique("svc");
    let p = Project::new();
    p.write(
        "infra/service.yaml",
        r#"AWSTemplateFormatVersion: "2010-09-09"
Description: An ECS service's infrastructure, as teams write it.
Parameters:
  ImageUri: {Type: String}
  DesiredCount: {Type: Number, Default: 2}
Resources:
  Cluster:
    Type: AWS::ECS::Cluster
    Properties:
      ClusterName: !Sub "${AWS::StackName}-cluster"
  ExecutionRole:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Principal: { Service: ecs-tasks.amazonaws.com }
            Action: sts:AssumeRole
      ManagedPolicyArns:
        - arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy
  Logs:
    Type: AWS::Logs::LogGroup
    Properties:
      LogGroupName: !Sub "/ecs/${AWS::StackName}"
      RetentionInDays: 14
  TaskDefinition:
    Type: AWS::ECS::TaskDefinition
    Properties:
      Family: !Sub "${AWS::StackName}-web"
      Cpu: "256"
      Memory: "512"
      NetworkMode: awsvpc
      RequiresCompatibilities: [FARGATE]
      ExecutionRoleArn: !GetAtt ExecutionRole.Arn
      ContainerDefinitions:
        - Name: web
          Image: !Ref ImageUri
          PortMappings: [{ ContainerPort: 8080 }]
          LogConfiguration:
            LogDriver: awslogs
            Options:
              awslogs-group: !Ref Logs
              awslogs-region: !Ref AWS::Region
              awslogs-stream-prefix: web
Outputs:
  ClusterName: { Value: !Ref Cluster }
  TaskDefinitionArn: { Value: !Ref TaskDefinition }
"#,
    )
    .write(
        "berth.yaml",
        &format!("version: 1\nproject: e2e\ntargets:\n  infra:\n    cloudformation:\n      stack: {stack}\n      template: infra/service.yaml\n      parameters: {{ ImageUri: \"registry/web@sha256:abc\" }}\n      capabilities: [CAPABILITY_IAM]\n      tags: {{ team: e2e }}\n"),
    );
    let run = p.berth(&["deploy", "-o", "json"]);
    run.assert_code(0);
    let doc = run.json();
    assert!(
        doc["targets"][0]["outputs"]["TaskDefinitionArn"]
            .as_str()
            .unwrap()
            .contains(&format!("{stack}-web")),
        "{}",
        doc["targets"][0]["outputs"]
    );
    let image = aws_text(&[
        "ecs",
        "describe-task-definition",
        "--task-definition",
        &format!("{stack}-web"),
        "--query",
        "taskDefinition.containerDefinitions[0].image",
    ]);
    assert_eq!(image.trim(), "registry/web@sha256:abc");
}

#[test]
fn rollback_puts_back_the_version_before_the_last_deploy() {
    let rig = Rig::get();
    let (p, stack) = project(&rig, "ImageUri: img:1");
    p.berth(&["deploy"]).assert_code(0);
    let text = std::fs::read_to_string(p.path().join("berth.yaml"))
        .unwrap()
        .replace("img:1", "img:2");
    p.write("berth.yaml", &text);
    p.berth(&["deploy"]).assert_code(0);
    assert_eq!(
        stack_field(
            &stack,
            "Stacks[0].Parameters[?ParameterKey=='ImageUri'].ParameterValue"
        ),
        "img:2"
    );
    let run = p.berth(&["rollback", "app", "-o", "json"]);
    run.assert_code(0);
    assert_eq!(
        stack_field(
            &stack,
            "Stacks[0].Parameters[?ParameterKey=='ImageUri'].ParameterValue"
        ),
        "img:1"
    );
    let doc = run.json();
    assert!(
        doc["targets"][0]["after"]
            .as_str()
            .unwrap()
            .contains("ImageUri=img:1"),
        "{doc}"
    );
    // Nothing recorded any more: a second rollback says so.
    let run = p.berth(&["rollback", "app"]);
    run.assert_code(1);
    assert!(
        run.stderr.contains("recorded no previous version"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_template_over_the_inline_limit_goes_through_s3() {
    let rig = Rig::get();
    let bucket = rig.unique("templates");
    let (p, stack) = project(&rig, "ImageUri: img:1");
    // Pad the template past 51,200 bytes with a long description.
    let big = TEMPLATE.replace(
        "Parameters:",
        &format!("Description: \"{}\"\nParameters:", "x".repeat(52_000)),
    );
    p.write("infra/app.yaml", &big);
    let run = p.berth(&["deploy"]);
    run.assert_code(1);
    assert!(
        run.stderr
            .contains("over CloudFormation's inline limit of 51200"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("hint: name an S3 bucket"),
        "{}",
        run.stderr
    );

    sh(&["aws", "s3api", "create-bucket", "--bucket", &bucket]);
    let text = std::fs::read_to_string(p.path().join("berth.yaml"))
        .unwrap()
        .replace(
            "      timeout: 1m\n",
            &format!("      timeout: 1m\n      s3_bucket: {bucket}\n"),
        );
    p.write("berth.yaml", &text);
    p.berth(&["deploy"]).assert_code(0);
    assert_eq!(
        stack_field(&stack, "Stacks[0].StackStatus"),
        "CREATE_COMPLETE"
    );
    let keys = aws_text(&[
        "s3api",
        "list-objects-v2",
        "--bucket",
        &bucket,
        "--query",
        "Contents[].Key",
    ]);
    assert!(keys.contains(&format!("berth/{stack}/")), "{keys}");
}

#[test]
fn plan_then_ship_a_new_stack() {
    let rig = Rig::get();
    let (p, stack) = project(&rig, "ImageUri: img:1");
    let run = p.berth(&["plan", "-o", "json"]);
    run.assert_code(0);
    assert!(
        run.json()["targets"][0]["plan"][0]
            .as_str()
            .unwrap()
            .starts_with(&format!("create stack {stack}"))
    );
    // The plan's change set made the stack exist in REVIEW_IN_PROGRESS, as in AWS.
    assert_eq!(
        stack_field(&stack, "Stacks[0].StackStatus"),
        "REVIEW_IN_PROGRESS"
    );
    p.berth(&["ship"]).assert_code(0);
    assert_eq!(
        stack_field(&stack, "Stacks[0].StackStatus"),
        "CREATE_COMPLETE"
    );
}

/// A DescribeStackEvents the identity may not call: the wait ends with that error (exit 1,
/// AccessDenied named), never as a timeout (exit 4) — although the stack itself finishes.
#[test]
fn an_error_reading_events_is_reported_as_itself_not_as_a_timeout() {
    let rig = Rig::get();
    let (p, stack) = project(&rig, "ImageUri: repo@sha256:one");
    let key = format!("AKIARIGNOEVENTS{}", std::process::id());
    let run = p.berth_env(&["deploy", "-o", "json"], &[("AWS_ACCESS_KEY_ID", &key)]);
    run.assert_code(1);
    run.assert_stderr(&["reading the events of stack", "AccessDenied", "docs/iam.md"]);
    assert!(!run.stderr.contains("still changing"), "{}", run.stderr);
    let doc = run.json();
    assert_eq!(doc["status"], "failed");
    assert_eq!(doc["targets"][0]["status"], "failed");
    // The stack did what it was asked: the error was berth's reading, not the deploy.
    assert_eq!(
        stack_field(&stack, "Stacks[0].StackStatus"),
        "CREATE_COMPLETE"
    );
}

/// Throttled DescribeStackEvents (after the SDK's own retries) are ridden out: the stack's
/// status still says when the operation is over, so the deploy succeeds.
#[test]
fn throttled_event_reads_are_ridden_out_until_the_stack_is_done() {
    let rig = Rig::get();
    let (p, stack) = project(&rig, "ImageUri: repo@sha256:one");
    let key = format!("AKIARIGSLOWEVENTS{}", std::process::id());
    let run = p.berth_env(&["deploy", "-o", "json"], &[("AWS_ACCESS_KEY_ID", &key)]);
    run.assert_code(0);
    run.assert_stderr(&["Throttling", "trying again"]);
    assert_eq!(run.json()["targets"][0]["status"], "deployed");
    assert_eq!(
        stack_field(&stack, "Stacks[0].StackStatus"),
        "CREATE_COMPLETE"
    );
}

/// Two runs deploying one stack at once: CloudFormation removes a stack's change sets when
/// one is executed, so the run whose change set went away plans again on top of what the
/// other deployed (never failing with "does not exist", never running a stale plan). The
/// race is forced: the rig's fault proxy holds run B's ExecuteChangeSet for 3 s while run A
/// plans and executes.
#[test]
fn concurrent_deploys_of_one_stack_take_turns() {
    let rig = Rig::get();
    let (p, stack) = project(&rig, "ImageUri: img:0");
    p.berth(&["deploy"]).assert_code(0);
    let config = |image: &str| {
        let text = std::fs::read_to_string(p.path().join("berth.yaml"))
            .unwrap()
            .replace("ImageUri: img:0", &format!("ImageUri: {image}"));
        let name = format!("{image}.yaml").replace(':', "-");
        p.write(&name, &text);
        name
    };
    let (file_a, file_b) = (config("img:a"), config("img:b"));
    let key = format!("AKIARIGSLOWEXEC{}", std::process::id());
    let faults = std::env::var("BERTH_RIG_FAULTS").expect("rig env");
    set_faults(
        &key,
        r#"{"latency_ms": 3000, "action": "ExecuteChangeSet"}"#,
    );
    let b = p.spawn_env(
        &["deploy", "-f", &file_b, "-o", "json"],
        &[("AWS_ACCESS_KEY_ID", &key), ("AWS_ENDPOINT_URL", &faults)],
    );
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let a = p.berth(&["deploy", "-f", &file_a, "-o", "json"]);
    let b = support::Run::from(b.wait_with_output().unwrap());
    a.assert_code(0);
    b.assert_code(0);
    b.assert_stderr(&["planning again"]);
    assert!(
        b.json()["targets"][0]["before"]
            .as_str()
            .unwrap()
            .contains("ImageUri=img:a"),
        "{}",
        b.stdout
    );
    assert_eq!(
        stack_field(
            &stack,
            "Stacks[0].Parameters[?ParameterKey=='ImageUri'].ParameterValue"
        ),
        "img:b"
    );
}

/// A deploy interrupted after it executed its change set keeps its rollback point on this
/// machine (it cannot be recorded on the stack before the stack settles: executing a change
/// set deletes the stack's others), so `berth rollback` still puts back the version before.
#[test]
fn an_interrupted_deploy_keeps_its_rollback_point() {
    use std::io::BufRead;
    let rig = Rig::get();
    let (p, stack) = project(&rig, "ImageUri: img:1");
    let state = p.path().join("state").display().to_string();
    let xdg = ("XDG_STATE_HOME", state.as_str());
    p.berth_env(&["deploy"], &[xdg]).assert_code(0);
    let text = std::fs::read_to_string(p.path().join("berth.yaml"))
        .unwrap()
        .replace("img:1", "img:2");
    p.write("berth.yaml", &text);
    // Slow event reads keep the run following the stack while it is interrupted.
    let key = format!("AKIARIGSLOWFOLLOW{}", std::process::id());
    let faults = std::env::var("BERTH_RIG_FAULTS").expect("rig env");
    set_faults(
        &key,
        r#"{"latency_ms": 4000, "action": "DescribeStackEvents"}"#,
    );
    let mut child = p.spawn_env(
        &["deploy"],
        &[
            xdg,
            ("AWS_ACCESS_KEY_ID", &key),
            ("AWS_ENDPOINT_URL", &faults),
        ],
    );
    let stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    let param = "Stacks[0].Parameters[?ParameterKey=='ImageUri'].ParameterValue";
    for line in stderr.lines() {
        let line = line.unwrap();
        seen.push_str(&line);
        seen.push('\n');
        if line.contains("executing the change set") {
            let until = std::time::Instant::now() + std::time::Duration::from_secs(20);
            while stack_field(&stack, param) != "img:2" && std::time::Instant::now() < until {
                std::thread::sleep(std::time::Duration::from_millis(200));
            }
            sh(&["kill", "-INT", &child.id().to_string()]);
        }
    }
    assert_eq!(child.wait().unwrap().code(), Some(130), "{seen}");
    assert_eq!(
        stack_field(&stack, param),
        "img:2",
        "the change set ran: {seen}"
    );
    let run = p.berth_env(&["rollback", "app", "-o", "json"], &[xdg]);
    run.assert_code(0);
    assert_eq!(stack_field(&stack, param), "img:1");
    // The point was used up: nothing is left on this machine.
    let left = std::fs::read_dir(p.path().join("state/berth/cloudformation"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(left, 0);
}

/// A re-run while the stack is still changing (the first run was killed, as a CI runner can
/// be): it waits for the operation to end and reports what the stack then is — the wanted
/// version, so `unchanged`, with no second change set executed.
#[test]
fn a_rerun_during_a_stack_update_waits_for_it_and_tells_the_truth() {
    let rig = Rig::get();
    let (p, stack) = project(&rig, "ImageUri: img:1");
    p.berth(&["deploy"]).assert_code(0);
    // The update takes 6 s in the rig (the resource's BerthRigSlow), as real ones take time.
    p.write(
        "infra/app.yaml",
        &TEMPLATE.replace(
            "    Type: AWS::SSM::Parameter\n",
            "    Type: AWS::SSM::Parameter\n    Metadata: { BerthRigSlow: 6 }\n",
        ),
    );
    let text = std::fs::read_to_string(p.path().join("berth.yaml"))
        .unwrap()
        .replace("img:1", "img:2");
    p.write("berth.yaml", &text);
    let key = format!("AKIARERUNCFN{}", std::process::id());
    let env = [("AWS_ACCESS_KEY_ID", key.as_str())];
    let mut first = p.spawn_env(&["deploy"], &env);
    let until = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while stack_field(&stack, "Stacks[0].StackStatus") != "UPDATE_IN_PROGRESS" {
        assert!(
            std::time::Instant::now() < until,
            "the update never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    first.kill().unwrap();
    let _ = first.wait();

    let started = std::time::Instant::now();
    let run = p.berth_env(&["deploy", "-o", "json"], &env);
    run.assert_code(0);
    assert!(
        started.elapsed() >= std::time::Duration::from_secs(3),
        "the re-run waited for the update to end"
    );
    assert_eq!(
        run.json()["targets"][0]["status"],
        "unchanged",
        "{}",
        run.stdout
    );
    assert_eq!(
        stack_field(&stack, "Stacks[0].StackStatus"),
        "UPDATE_COMPLETE"
    );
    let executes = aws_calls_with_key(&key)
        .iter()
        .filter(|(_, action)| action == "ExecuteChangeSet")
        .count();
    assert_eq!(executes, 1, "only the first run executed a change set");
}

/// A nested stack that fails inside: the root cause named is the resource inside it (read
/// from the nested stack's own events), in the error and in `diagnosis`, as the aws CLI
/// reads those events.
#[test]
fn a_failed_nested_stack_is_explained_by_its_own_root_cause() {
    let rig = Rig::get();
    let (p, stack) = project(&rig, "ImageUri: img:1");
    p.berth(&["deploy"]).assert_code(0);
    let failing = TEMPLATE.replace(
        "Resources:\n",
        "Resources:\n  Storage:\n    Type: AWS::CloudFormation::Stack\n    Properties: { TemplateURL: \"https://s3.amazonaws.com/shop/storage.yaml\" }\n    Metadata:\n      BerthRigFail: nested\n      BerthRigNested: { Resource: Bucket, Type: \"AWS::S3::Bucket\", Reason: \"shop-assets already exists\" }\n",
    );
    p.write("infra/app.yaml", &failing);
    let run = p.berth(&["deploy", "-o", "json"]);
    run.assert_code(3);
    let doc = run.json();
    let t = &doc["targets"][0];
    let why = t["error"].as_str().unwrap();
    assert!(
        why.contains("first failure: Bucket (AWS::S3::Bucket) in nested stack ")
            && why.ends_with(": shop-assets already exists"),
        "{why}"
    );
    let events = t["diagnosis"]["events"].as_array().unwrap();
    assert_eq!(events.len(), 1, "{events:?}");
    let nested = why
        .split("in nested stack ")
        .nth(1)
        .unwrap()
        .split(':')
        .next()
        .unwrap();
    assert!(nested.starts_with(&format!("{stack}-Storage-")), "{nested}");
    // The parent names the nested stack by id; its events say what berth reported.
    let id = aws_text(&[
        "cloudformation",
        "describe-stack-events",
        "--stack-name",
        &stack,
        "--query",
        "StackEvents[?LogicalResourceId=='Storage' && ResourceStatus=='CREATE_FAILED'].PhysicalResourceId | [0]",
    ]);
    let inner = aws_text(&[
        "cloudformation",
        "describe-stack-events",
        "--stack-name",
        id.trim(),
        "--query",
        "StackEvents[?ResourceStatus=='CREATE_FAILED' && LogicalResourceId=='Bucket'].ResourceStatusReason | [0]",
    ]);
    assert_eq!(inner.trim(), "shop-assets already exists");
}
