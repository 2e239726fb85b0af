
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'berth' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'berth'
        for ($i = 1; $i -lt $commandElements.Count; $i++) {
            $element = $commandElements[$i]
            if ($element -isnot [StringConstantExpressionAst] -or
                $element.StringConstantType -ne [StringConstantType]::BareWord -or
                $element.Value.StartsWith('-') -or
                $element.Value -eq $wordToComplete) {
                break
        }
        $element.Value
    }) -join ';'

    $completions = @(switch ($command) {
        'berth' {
            [CompletionResult]::new('-f', '-f', [CompletionResultType]::ParameterName, 'Pipeline file to read')
            [CompletionResult]::new('--file', '--file', [CompletionResultType]::ParameterName, 'Pipeline file to read')
            [CompletionResult]::new('-e', '-e', [CompletionResultType]::ParameterName, 'Environment to apply (a key of the pipeline file''s `environments`)')
            [CompletionResult]::new('--env', '--env', [CompletionResultType]::ParameterName, 'Environment to apply (a key of the pipeline file''s `environments`)')
            [CompletionResult]::new('--region', '--region', [CompletionResultType]::ParameterName, 'AWS region for every image and target, overriding the pipeline file')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'AWS profile for every image and target, overriding the pipeline file')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: `human` (progress on stderr, summary on stdout), `json` (one document at the end) or `ndjson` (one event per line, then the document)')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: `human` (progress on stderr, summary on stdout), `json` (one document at the end) or `ndjson` (one event per line, then the document)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colours (`auto` follows the terminal and NO_COLOR)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Show more on stderr: `-v` every step''s log (build output, changes, rollout events) also on a terminal; `-vv` also every AWS API request with its answer and time')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Show more on stderr: `-v` every step''s log (build output, changes, rollout events) also on a terminal; `-vv` also every AWS API request with its answer and time')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Show only errors and the result')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Show only errors and the result')
            [CompletionResult]::new('--no-progress', '--no-progress', [CompletionResultType]::ParameterName, 'Print plain lines instead of progress bars, even on a terminal')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('validate', 'validate', [CompletionResultType]::ParameterValue, 'Check the pipeline file and the files it references. Changes nothing; needs no AWS or Docker')
            [CompletionResult]::new('plan', 'plan', [CompletionResultType]::ParameterValue, 'Show what `ship` would do: images to build and their tags, and per target the change (read-only calls to AWS). Changes nothing')
            [CompletionResult]::new('build', 'build', [CompletionResultType]::ParameterValue, 'Build images through the Docker daemon')
            [CompletionResult]::new('push', 'push', [CompletionResultType]::ParameterValue, 'Build images if needed, then push them to ECR (creating and configuring repositories)')
            [CompletionResult]::new('deploy', 'deploy', [CompletionResultType]::ParameterValue, 'Deploy images already in ECR (default: the tags the pipeline computes now)')
            [CompletionResult]::new('ship', 'ship', [CompletionResultType]::ParameterValue, 'Build and push what the selected targets need, then deploy them in dependency order, in parallel where independent')
            [CompletionResult]::new('rollback', 'rollback', [CompletionResultType]::ParameterValue, 'Put a target back to the state recorded before berth''s last deploy of it')
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Show what each target runs now: image refs, revision, rollout state')
            [CompletionResult]::new('logs', 'logs', [CompletionResultType]::ParameterValue, 'Show the last log lines of the containers a target runs now (its current revision''s ECS tasks, from CloudWatch Logs, or its pods), and follow them with `--follow`')
            [CompletionResult]::new('gc', 'gc', [CompletionResultType]::ParameterValue, 'Clean up the pipeline''s ECR repositories: keep every image a target runs, is rolling out or could roll back to (in every environment, account and region the pipeline deploys to), the newest of each tag group and the young ones; list the rest, or delete them with `--delete`')
            [CompletionResult]::new('iam-policy', 'iam-policy', [CompletionResultType]::ParameterValue, 'Print the least-privilege IAM policy for this pipeline: one document per account or role, with exactly the actions berth calls and resources scoped to what the pipeline names, and the Kubernetes RBAC Role each EKS target needs')
            [CompletionResult]::new('login', 'login', [CompletionResultType]::ParameterValue, 'Log the Docker daemon in to the pipeline''s ECR registries')
            [CompletionResult]::new('eks-token', 'eks-token', [CompletionResultType]::ParameterValue, 'Print a bearer token for an EKS cluster (as `aws eks get-token` does), or a kubeconfig that gets its tokens from berth: kubectl then needs no aws CLI')
            [CompletionResult]::new('doctor', 'doctor', [CompletionResultType]::ParameterValue, 'Check what a CI job needs: the pipeline file, the Docker daemon, AWS credentials, identity and region, each AWS service the pipeline uses, and Kubernetes access for EKS targets; each failed check with a fix. Read-only. Exit 1 when a check failed')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print a shell completion script')
            [CompletionResult]::new('generate-docs', 'generate-docs', [CompletionResultType]::ParameterValue, 'Write the generated files: completions, man page, CLI reference, JSON Schema')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'berth;validate' {
            [CompletionResult]::new('-f', '-f', [CompletionResultType]::ParameterName, 'Pipeline file to read')
            [CompletionResult]::new('--file', '--file', [CompletionResultType]::ParameterName, 'Pipeline file to read')
            [CompletionResult]::new('-e', '-e', [CompletionResultType]::ParameterName, 'Environment to apply (a key of the pipeline file''s `environments`)')
            [CompletionResult]::new('--env', '--env', [CompletionResultType]::ParameterName, 'Environment to apply (a key of the pipeline file''s `environments`)')
            [CompletionResult]::new('--region', '--region', [CompletionResultType]::ParameterName, 'AWS region for every image and target, overriding the pipeline file')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'AWS profile for every image and target, overriding the pipeline file')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: `human` (progress on stderr, summary on stdout), `json` (one document at the end) or `ndjson` (one event per line, then the document)')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: `human` (progress on stderr, summary on stdout), `json` (one document at the end) or `ndjson` (one event per line, then the document)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colours (`auto` follows the terminal and NO_COLOR)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Show more on stderr: `-v` every step''s log (build output, changes, rollout events) also on a terminal; `-vv` also every AWS API request with its answer and time')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Show more on stderr: `-v` every step''s log (build output, changes, rollout events) also on a terminal; `-vv` also every AWS API request with its answer and time')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Show only errors and the result')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Show only errors and the result')
            [CompletionResult]::new('--no-progress', '--no-progress', [CompletionResultType]::ParameterName, 'Print plain lines instead of progress bars, even on a terminal')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'berth;plan' {
            [CompletionResult]::new('--image', '--image', [CompletionResultType]::ParameterName, 'Plan the deploy of this image reference for an image instead of the computed tag (repeatable), as `deploy --image` would do it')
            [CompletionResult]::new('-f', '-f', [CompletionResultType]::ParameterName, 'Pipeline file to read')
            [CompletionResult]::new('--file', '--file', [CompletionResultType]::ParameterName, 'Pipeline file to read')
            [CompletionResult]::new('-e', '-e', [CompletionResultType]::ParameterName, 'Environment to apply (a key of the pipeline file''s `environments`)')
            [CompletionResult]::new('--env', '--env', [CompletionResultType]::ParameterName, 'Environment to apply (a key of the pipeline file''s `environments`)')
            [CompletionResult]::new('--region', '--region', [CompletionResultType]::ParameterName, 'AWS region for every image and target, overriding the pipeline file')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'AWS profile for every image and target, overriding the pipeline file')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: `human` (progress on stderr, summary on stdout), `json` (one document at the end) or `ndjson` (one event per line, then the document)')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: `human` (progress on stderr, summary on stdout), `json` (one document at the end) or `ndjson` (one event per line, then the document)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colours (`auto` follows the terminal and NO_COLOR)')
            [CompletionResult]::new('--static', '--static', [CompletionResultType]::ParameterName, 'Plan from the pipeline file alone, without asking AWS what runs now (no credentials needed)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Show more on stderr: `-v` every step''s log (build output, changes, rollout events) also on a terminal; `-vv` also every AWS API request with its answer and time')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Show more on stderr: `-v` every step''s log (build output, changes, rollout events) also on a terminal; `-vv` also every AWS API request with its answer and time')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Show only errors and the result')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Show only errors and the result')
            [CompletionResult]::new('--no-progress', '--no-progress', [CompletionResultType]::ParameterName, 'Print plain lines instead of progress bars, even on a terminal')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'berth;build' {
            [CompletionResult]::new('-j', '-j', [CompletionResultType]::ParameterName, 'How many steps run at once, builds included (default: one build per CPU, and up to 16 steps in all, since pushes and deploys mostly wait on the network)')
            [CompletionResult]::new('--jobs', '--jobs', [CompletionResultType]::ParameterName, 'How many steps run at once, builds included (default: one build per CPU, and up to 16 steps in all, since pushes and deploys mostly wait on the network)')
            [CompletionResult]::new('-f', '-f', [CompletionResultType]::ParameterName, 'Pipeline file to read')
            [CompletionResult]::new('--file', '--file', [CompletionResultType]::ParameterName, 'Pipeline file to read')
            [CompletionResult]::new('-e', '-e', [CompletionResultType]::ParameterName, 'Environment to apply (a key of the pipeline file''s `environments`)')
            [CompletionResult]::new('--env', '--env', [CompletionResultType]::ParameterName, 'Environment to apply (a key of the pipeline file''s `environments`)')
            [CompletionResult]::new('--region', '--region', [CompletionResultType]::ParameterName, 'AWS region for every image and target, overriding the pipeline file')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'AWS profile for every image and target, overriding the pipeline file')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: `human` (progress on stderr, summary on stdout), `json` (one document at the end) or `ndjson` (one event per line, then the document)')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: `human` (progress on stderr, summary on stdout), `json` (one document at the end) or `ndjson` (one event per line, then the document)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colours (`auto` follows the terminal and NO_COLOR)')
            [CompletionResult]::new('--no-cache', '--no-cache', [CompletionResultType]::ParameterName, 'Build without the Docker layer cache')
            [CompletionResult]::new('--pull', '--pull', [CompletionResultType]::ParameterName, 'Always pull newer versions of base images')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Show more on stderr: `-v` every step''s log (build output, changes, rollout events) also on a terminal; `-vv` also every AWS API request with its answer and time')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Show more on stderr: `-v` every step''s log (build output, changes, rollout events) also on a terminal; `-vv` also every AWS API request with its answer and time')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Show only errors and the result')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Show only errors and the result')
            [CompletionResult]::new('--no-progress', '--no-progress', [CompletionResultType]::ParameterName, 'Print plain lines instead of progress bars, even on a terminal')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'berth;push' {
            [CompletionResult]::new('--push-via', '--push-via', [CompletionResultType]::ParameterName, 'How images are pushed, for every image (default: each image''s `push_via`, else `registry`)')
            [CompletionResult]::new('-j', '-j', [CompletionResultType]::ParameterName, 'How many steps run at once, builds included (default: one build per CPU, and up to 16 steps in all, since pushes and deploys mostly wait on the network)')
            [CompletionResult]::new('--jobs', '--jobs', [CompletionResultType]::ParameterName, 'How many steps run at once, builds included (default: one build per CPU, and up to 16 steps in all, since pushes and deploys mostly wait on the network)')
            [CompletionResult]::new('-f', '-f', [CompletionResultType]::ParameterName, 'Pipeline file to read')
            [CompletionResult]::new('--file', '--file', [CompletionResultType]::ParameterName, 'Pipeline file to read')
            [CompletionResult]::new('-e', '-e', [CompletionResultType]::ParameterName, 'Environment to apply (a key of the pipeline file''s `environments`)')
            [CompletionResult]::new('--env', '--env', [CompletionResultType]::ParameterName, 'Environment to apply (a key of the pipeline file''s `environments`)')
            [CompletionResult]::new('--region', '--region', [CompletionResultType]::ParameterName, 'AWS region for every image and target, overriding the pipeline file')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'AWS profile for every image and target, overriding the pipeline file')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: `human` (progress on stderr, summary on stdout), `json` (one document at the end) or `ndjson` (one event per line, then the document)')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: `human` (progress on stderr, summary on stdout), `json` (one document at the end) or `ndjson` (one event per line, then the document)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colours (`auto` follows the terminal and NO_COLOR)')
            [CompletionResult]::new('--no-cache', '--no-cache', [CompletionResultType]::ParameterName, 'Build without the Docker layer cache')
            [CompletionResult]::new('--pull', '--pull', [CompletionResultType]::ParameterName, 'Always pull newer versions of base images')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Show more on stderr: `-v` every step''s log (build output, changes, rollout events) also on a terminal; `-vv` also every AWS API request with its answer and time')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Show more on stderr: `-v` every step''s log (build output, changes, rollout events) also on a terminal; `-vv` also every AWS API request with its answer and time')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Show only errors and the result')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Show only errors and the result')
            [CompletionResult]::new('--no-progress', '--no-progress', [CompletionResultType]::ParameterName, 'Print plain lines instead of progress bars, even on a terminal')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'berth;deploy' {
            [CompletionResult]::new('--image', '--image', [CompletionResultType]::ParameterName, 'Deploy this image reference for an image instead of the computed tag (repeatable), e.g. `--image web=123456789012.dkr.ecr.us-east-1.amazonaws.com/shop/web@sha256:…`')
            [CompletionResult]::new('--wait-until', '--wait-until', [CompletionResultType]::ParameterName, 'Stop watching each ECS service deployment (BLUE_GREEN, LINEAR or CANARY strategy) once it reaches this lifecycle stage, e.g. TEST_TRAFFIC_SHIFT, and report it `paused` (overrides the targets'' `wait_until`)')
            [CompletionResult]::new('-j', '-j', [CompletionResultType]::ParameterName, 'How many steps run at once, builds included (default: one build per CPU, and up to 16 steps in all, since pushes and deploys mostly wait on the network)')
            [CompletionResult]::new('--jobs', '--jobs', [CompletionResultType]::ParameterName, 'How many steps run at once, builds included (default: one build per CPU, and up to 16 steps in all, since pushes and deploys mostly wait on the network)')
            [CompletionResult]::new('-f', '-f', [CompletionResultType]::ParameterName, 'Pipeline file to read')
            [CompletionResult]::new('--file', '--file', [CompletionResultType]::ParameterName, 'Pipeline file to read')
            [CompletionResult]::new('-e', '-e', [CompletionResultType]::ParameterName, 'Environment to apply (a key of the pipeline file''s `environments`)')
            [CompletionResult]::new('--env', '--env', [CompletionResultType]::ParameterName, 'Environment to apply (a key of the pipeline file''s `environments`)')
            [CompletionResult]::new('--region', '--region', [CompletionResultType]::ParameterName, 'AWS region for every image and target, overriding the pipeline file')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'AWS profile for every image and target, overriding the pipeline file')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: `human` (progress on stderr, summary on stdout), `json` (one document at the end) or `ndjson` (one event per line, then the document)')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: `human` (progress on stderr, summary on stdout), `json` (one document at the end) or `ndjson` (one event per line, then the document)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colours (`auto` follows the terminal and NO_COLOR)')
            [CompletionResult]::new('--continue', '--continue', [CompletionResultType]::ParameterName, 'Deploy nothing: follow the named targets'' service deployments (left running by `wait_until`) to their end, and report how they ended')
            [CompletionResult]::new('--fail-fast', '--fail-fast', [CompletionResultType]::ParameterName, 'Stop starting new steps after the first failure (running ones finish)')
            [CompletionResult]::new('--no-wait-lock', '--no-wait-lock', [CompletionResultType]::ParameterName, 'Fail at once when another berth run holds a target''s lock, instead of waiting for it (for at most the target''s timeout)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Show more on stderr: `-v` every step''s log (build output, changes, rollout events) also on a terminal; `-vv` also every AWS API request with its answer and time')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Show more on stderr: `-v` every step''s log (build output, changes, rollout events) also on a terminal; `-vv` also every AWS API request with its answer and time')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Show only errors and the result')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Show only errors and the result')
            [CompletionResult]::new('--no-progress', '--no-progress', [CompletionResultType]::ParameterName, 'Print plain lines instead of progress bars, even on a terminal')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'berth;ship' {
            [CompletionResult]::new('--image', '--image', [CompletionResultType]::ParameterName, 'Deploy this image reference for an image instead of building it (repeatable)')
            [CompletionResult]::new('--push-via', '--push-via', [CompletionResultType]::ParameterName, 'How images are pushed, for every image (default: each image''s `push_via`, else `registry`)')
            [CompletionResult]::new('-j', '-j', [CompletionResultType]::ParameterName, 'How many steps run at once, builds included (default: one build per CPU, and up to 16 steps in all, since pushes and deploys mostly wait on the network)')
            [CompletionResult]::new('--jobs', '--jobs', [CompletionResultType]::ParameterName, 'How many steps run at once, builds included (default: one build per CPU, and up to 16 steps in all, since pushes and deploys mostly wait on the network)')
            [CompletionResult]::new('-f', '-f', [CompletionResultType]::ParameterName, 'Pipeline file to read')
            [CompletionResult]::new('--file', '--file', [CompletionResultType]::ParameterName, 'Pipeline file to read')
            [CompletionResult]::new('-e', '-e', [CompletionResultType]::ParameterName, 'Environment to apply (a key of the pipeline file''s `environments`)')
            [CompletionResult]::new('--env', '--env', [CompletionResultType]::ParameterName, 'Environment to apply (a key of the pipeline file''s `environments`)')
            [CompletionResult]::new('--region', '--region', [CompletionResultType]::ParameterName, 'AWS region for every image and target, overriding the pipeline file')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'AWS profile for every image and target, overriding the pipeline file')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: `human` (progress on stderr, summary on stdout), `json` (one document at the end) or `ndjson` (one event per line, then the document)')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: `human` (progress on stderr, summary on stdout), `json` (one document at the end) or `ndjson` (one event per line, then the document)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colours (`auto` follows the terminal and NO_COLOR)')
            [CompletionResult]::new('--no-cache', '--no-cache', [CompletionResultType]::ParameterName, 'Build without the Docker layer cache')
            [CompletionResult]::new('--pull', '--pull', [CompletionResultType]::ParameterName, 'Always pull newer versions of base images')
            [CompletionResult]::new('--fail-fast', '--fail-fast', [CompletionResultType]::ParameterName, 'Stop starting new steps after the first failure (running ones finish)')
            [CompletionResult]::new('--no-wait-lock', '--no-wait-lock', [CompletionResultType]::ParameterName, 'Fail at once when another berth run holds a target''s lock, instead of waiting for it (for at most the target''s timeout)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Show more on stderr: `-v` every step''s log (build output, changes, rollout events) also on a terminal; `-vv` also every AWS API request with its answer and time')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Show more on stderr: `-v` every step''s log (build output, changes, rollout events) also on a terminal; `-vv` also every AWS API request with its answer and time')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Show only errors and the result')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Show only errors and the result')
            [CompletionResult]::new('--no-progress', '--no-progress', [CompletionResultType]::ParameterName, 'Print plain lines instead of progress bars, even on a terminal')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'berth;rollback' {
            [CompletionResult]::new('-f', '-f', [CompletionResultType]::ParameterName, 'Pipeline file to read')
            [CompletionResult]::new('--file', '--file', [CompletionResultType]::ParameterName, 'Pipeline file to read')
            [CompletionResult]::new('-e', '-e', [CompletionResultType]::ParameterName, 'Environment to apply (a key of the pipeline file''s `environments`)')
            [CompletionResult]::new('--env', '--env', [CompletionResultType]::ParameterName, 'Environment to apply (a key of the pipeline file''s `environments`)')
            [CompletionResult]::new('--region', '--region', [CompletionResultType]::ParameterName, 'AWS region for every image and target, overriding the pipeline file')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'AWS profile for every image and target, overriding the pipeline file')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: `human` (progress on stderr, summary on stdout), `json` (one document at the end) or `ndjson` (one event per line, then the document)')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: `human` (progress on stderr, summary on stdout), `json` (one document at the end) or `ndjson` (one event per line, then the document)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colours (`auto` follows the terminal and NO_COLOR)')
            [CompletionResult]::new('--no-wait-lock', '--no-wait-lock', [CompletionResultType]::ParameterName, 'Fail at once when another berth run holds a target''s lock, instead of waiting for it (for at most the target''s timeout)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Show more on stderr: `-v` every step''s log (build output, changes, rollout events) also on a terminal; `-vv` also every AWS API request with its answer and time')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Show more on stderr: `-v` every step''s log (build output, changes, rollout events) also on a terminal; `-vv` also every AWS API request with its answer and time')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Show only errors and the result')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Show only errors and the result')
            [CompletionResult]::new('--no-progress', '--no-progress', [CompletionResultType]::ParameterName, 'Print plain lines instead of progress bars, even on a terminal')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'berth;status' {
            [CompletionResult]::new('-f', '-f', [CompletionResultType]::ParameterName, 'Pipeline file to read')
            [CompletionResult]::new('--file', '--file', [CompletionResultType]::ParameterName, 'Pipeline file to read')
            [CompletionResult]::new('-e', '-e', [CompletionResultType]::ParameterName, 'Environment to apply (a key of the pipeline file''s `environments`)')
            [CompletionResult]::new('--env', '--env', [CompletionResultType]::ParameterName, 'Environment to apply (a key of the pipeline file''s `environments`)')
            [CompletionResult]::new('--region', '--region', [CompletionResultType]::ParameterName, 'AWS region for every image and target, overriding the pipeline file')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'AWS profile for every image and target, overriding the pipeline file')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: `human` (progress on stderr, summary on stdout), `json` (one document at the end) or `ndjson` (one event per line, then the document)')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: `human` (progress on stderr, summary on stdout), `json` (one document at the end) or `ndjson` (one event per line, then the document)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colours (`auto` follows the terminal and NO_COLOR)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Show more on stderr: `-v` every step''s log (build output, changes, rollout events) also on a terminal; `-vv` also every AWS API request with its answer and time')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Show more on stderr: `-v` every step''s log (build output, changes, rollout events) also on a terminal; `-vv` also every AWS API request with its answer and time')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Show only errors and the result')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Show only errors and the result')
            [CompletionResult]::new('--no-progress', '--no-progress', [CompletionResultType]::ParameterName, 'Print plain lines instead of progress bars, even on a terminal')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'berth;logs' {
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'How many of the last lines of each container to show')
            [CompletionResult]::new('--lines', '--lines', [CompletionResultType]::ParameterName, 'How many of the last lines of each container to show')
            [CompletionResult]::new('-f', '-f', [CompletionResultType]::ParameterName, 'Pipeline file to read')
            [CompletionResult]::new('--file', '--file', [CompletionResultType]::ParameterName, 'Pipeline file to read')
            [CompletionResult]::new('-e', '-e', [CompletionResultType]::ParameterName, 'Environment to apply (a key of the pipeline file''s `environments`)')
            [CompletionResult]::new('--env', '--env', [CompletionResultType]::ParameterName, 'Environment to apply (a key of the pipeline file''s `environments`)')
            [CompletionResult]::new('--region', '--region', [CompletionResultType]::ParameterName, 'AWS region for every image and target, overriding the pipeline file')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'AWS profile for every image and target, overriding the pipeline file')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: `human` (progress on stderr, summary on stdout), `json` (one document at the end) or `ndjson` (one event per line, then the document)')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: `human` (progress on stderr, summary on stdout), `json` (one document at the end) or `ndjson` (one event per line, then the document)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colours (`auto` follows the terminal and NO_COLOR)')
            [CompletionResult]::new('--follow', '--follow', [CompletionResultType]::ParameterName, 'Keep showing new lines as they are logged, until interrupted (Ctrl-C)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Show more on stderr: `-v` every step''s log (build output, changes, rollout events) also on a terminal; `-vv` also every AWS API request with its answer and time')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Show more on stderr: `-v` every step''s log (build output, changes, rollout events) also on a terminal; `-vv` also every AWS API request with its answer and time')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Show only errors and the result')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Show only errors and the result')
            [CompletionResult]::new('--no-progress', '--no-progress', [CompletionResultType]::ParameterName, 'Print plain lines instead of progress bars, even on a terminal')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'berth;gc' {
            [CompletionResult]::new('--keep-newest', '--keep-newest', [CompletionResultType]::ParameterName, 'Keep the newest N images of each tag group')
            [CompletionResult]::new('--group-by', '--group-by', [CompletionResultType]::ParameterName, 'Group tags by this regular expression''s first capture group, e.g. `^(.+)-[0-9a-f]{7}$` for one group per branch of `BRANCH-SHA` tags; tags it does not match form one group. Default: one group')
            [CompletionResult]::new('--keep-younger-than', '--keep-younger-than', [CompletionResultType]::ParameterName, 'Keep images pushed less than this long ago (`0s`: none are kept for their age)')
            [CompletionResult]::new('--keep-revisions', '--keep-revisions', [CompletionResultType]::ParameterName, 'How many replaced ECS task definition revisions count as rollback points (and how many of a family''s newest revisions are kept)')
            [CompletionResult]::new('-f', '-f', [CompletionResultType]::ParameterName, 'Pipeline file to read')
            [CompletionResult]::new('--file', '--file', [CompletionResultType]::ParameterName, 'Pipeline file to read')
            [CompletionResult]::new('-e', '-e', [CompletionResultType]::ParameterName, 'Environment to apply (a key of the pipeline file''s `environments`)')
            [CompletionResult]::new('--env', '--env', [CompletionResultType]::ParameterName, 'Environment to apply (a key of the pipeline file''s `environments`)')
            [CompletionResult]::new('--region', '--region', [CompletionResultType]::ParameterName, 'AWS region for every image and target, overriding the pipeline file')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'AWS profile for every image and target, overriding the pipeline file')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: `human` (progress on stderr, summary on stdout), `json` (one document at the end) or `ndjson` (one event per line, then the document)')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: `human` (progress on stderr, summary on stdout), `json` (one document at the end) or `ndjson` (one event per line, then the document)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colours (`auto` follows the terminal and NO_COLOR)')
            [CompletionResult]::new('--delete', '--delete', [CompletionResultType]::ParameterName, 'Delete the deletable images (without it, gc only lists them)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Show more on stderr: `-v` every step''s log (build output, changes, rollout events) also on a terminal; `-vv` also every AWS API request with its answer and time')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Show more on stderr: `-v` every step''s log (build output, changes, rollout events) also on a terminal; `-vv` also every AWS API request with its answer and time')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Show only errors and the result')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Show only errors and the result')
            [CompletionResult]::new('--no-progress', '--no-progress', [CompletionResultType]::ParameterName, 'Print plain lines instead of progress bars, even on a terminal')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'berth;iam-policy' {
            [CompletionResult]::new('-f', '-f', [CompletionResultType]::ParameterName, 'Pipeline file to read')
            [CompletionResult]::new('--file', '--file', [CompletionResultType]::ParameterName, 'Pipeline file to read')
            [CompletionResult]::new('-e', '-e', [CompletionResultType]::ParameterName, 'Environment to apply (a key of the pipeline file''s `environments`)')
            [CompletionResult]::new('--env', '--env', [CompletionResultType]::ParameterName, 'Environment to apply (a key of the pipeline file''s `environments`)')
            [CompletionResult]::new('--region', '--region', [CompletionResultType]::ParameterName, 'AWS region for every image and target, overriding the pipeline file')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'AWS profile for every image and target, overriding the pipeline file')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: `human` (progress on stderr, summary on stdout), `json` (one document at the end) or `ndjson` (one event per line, then the document)')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: `human` (progress on stderr, summary on stdout), `json` (one document at the end) or `ndjson` (one event per line, then the document)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colours (`auto` follows the terminal and NO_COLOR)')
            [CompletionResult]::new('--gc', '--gc', [CompletionResultType]::ParameterName, 'Also allow what `berth gc --delete` calls (ecr:BatchDeleteImage, the task definition history of ECS targets)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Show more on stderr: `-v` every step''s log (build output, changes, rollout events) also on a terminal; `-vv` also every AWS API request with its answer and time')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Show more on stderr: `-v` every step''s log (build output, changes, rollout events) also on a terminal; `-vv` also every AWS API request with its answer and time')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Show only errors and the result')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Show only errors and the result')
            [CompletionResult]::new('--no-progress', '--no-progress', [CompletionResultType]::ParameterName, 'Print plain lines instead of progress bars, even on a terminal')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'berth;login' {
            [CompletionResult]::new('-f', '-f', [CompletionResultType]::ParameterName, 'Pipeline file to read')
            [CompletionResult]::new('--file', '--file', [CompletionResultType]::ParameterName, 'Pipeline file to read')
            [CompletionResult]::new('-e', '-e', [CompletionResultType]::ParameterName, 'Environment to apply (a key of the pipeline file''s `environments`)')
            [CompletionResult]::new('--env', '--env', [CompletionResultType]::ParameterName, 'Environment to apply (a key of the pipeline file''s `environments`)')
            [CompletionResult]::new('--region', '--region', [CompletionResultType]::ParameterName, 'AWS region for every image and target, overriding the pipeline file')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'AWS profile for every image and target, overriding the pipeline file')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: `human` (progress on stderr, summary on stdout), `json` (one document at the end) or `ndjson` (one event per line, then the document)')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: `human` (progress on stderr, summary on stdout), `json` (one document at the end) or `ndjson` (one event per line, then the document)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colours (`auto` follows the terminal and NO_COLOR)')
            [CompletionResult]::new('--print-password', '--print-password', [CompletionResultType]::ParameterName, 'Print the registry password to stdout instead of logging the daemon in (like `aws ecr get-login-password`)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Show more on stderr: `-v` every step''s log (build output, changes, rollout events) also on a terminal; `-vv` also every AWS API request with its answer and time')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Show more on stderr: `-v` every step''s log (build output, changes, rollout events) also on a terminal; `-vv` also every AWS API request with its answer and time')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Show only errors and the result')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Show only errors and the result')
            [CompletionResult]::new('--no-progress', '--no-progress', [CompletionResultType]::ParameterName, 'Print plain lines instead of progress bars, even on a terminal')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'berth;eks-token' {
            [CompletionResult]::new('-f', '-f', [CompletionResultType]::ParameterName, 'Pipeline file to read')
            [CompletionResult]::new('--file', '--file', [CompletionResultType]::ParameterName, 'Pipeline file to read')
            [CompletionResult]::new('-e', '-e', [CompletionResultType]::ParameterName, 'Environment to apply (a key of the pipeline file''s `environments`)')
            [CompletionResult]::new('--env', '--env', [CompletionResultType]::ParameterName, 'Environment to apply (a key of the pipeline file''s `environments`)')
            [CompletionResult]::new('--region', '--region', [CompletionResultType]::ParameterName, 'AWS region for every image and target, overriding the pipeline file')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'AWS profile for every image and target, overriding the pipeline file')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: `human` (progress on stderr, summary on stdout), `json` (one document at the end) or `ndjson` (one event per line, then the document)')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: `human` (progress on stderr, summary on stdout), `json` (one document at the end) or `ndjson` (one event per line, then the document)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colours (`auto` follows the terminal and NO_COLOR)')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'Print a kubeconfig for the cluster (endpoint and CA from DescribeCluster, berth as the exec plugin) instead of a token')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Show more on stderr: `-v` every step''s log (build output, changes, rollout events) also on a terminal; `-vv` also every AWS API request with its answer and time')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Show more on stderr: `-v` every step''s log (build output, changes, rollout events) also on a terminal; `-vv` also every AWS API request with its answer and time')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Show only errors and the result')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Show only errors and the result')
            [CompletionResult]::new('--no-progress', '--no-progress', [CompletionResultType]::ParameterName, 'Print plain lines instead of progress bars, even on a terminal')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'berth;doctor' {
            [CompletionResult]::new('-f', '-f', [CompletionResultType]::ParameterName, 'Pipeline file to read')
            [CompletionResult]::new('--file', '--file', [CompletionResultType]::ParameterName, 'Pipeline file to read')
            [CompletionResult]::new('-e', '-e', [CompletionResultType]::ParameterName, 'Environment to apply (a key of the pipeline file''s `environments`)')
            [CompletionResult]::new('--env', '--env', [CompletionResultType]::ParameterName, 'Environment to apply (a key of the pipeline file''s `environments`)')
            [CompletionResult]::new('--region', '--region', [CompletionResultType]::ParameterName, 'AWS region for every image and target, overriding the pipeline file')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'AWS profile for every image and target, overriding the pipeline file')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: `human` (progress on stderr, summary on stdout), `json` (one document at the end) or `ndjson` (one event per line, then the document)')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: `human` (progress on stderr, summary on stdout), `json` (one document at the end) or `ndjson` (one event per line, then the document)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colours (`auto` follows the terminal and NO_COLOR)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Show more on stderr: `-v` every step''s log (build output, changes, rollout events) also on a terminal; `-vv` also every AWS API request with its answer and time')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Show more on stderr: `-v` every step''s log (build output, changes, rollout events) also on a terminal; `-vv` also every AWS API request with its answer and time')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Show only errors and the result')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Show only errors and the result')
            [CompletionResult]::new('--no-progress', '--no-progress', [CompletionResultType]::ParameterName, 'Print plain lines instead of progress bars, even on a terminal')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'berth;completions' {
            [CompletionResult]::new('-f', '-f', [CompletionResultType]::ParameterName, 'Pipeline file to read')
            [CompletionResult]::new('--file', '--file', [CompletionResultType]::ParameterName, 'Pipeline file to read')
            [CompletionResult]::new('-e', '-e', [CompletionResultType]::ParameterName, 'Environment to apply (a key of the pipeline file''s `environments`)')
            [CompletionResult]::new('--env', '--env', [CompletionResultType]::ParameterName, 'Environment to apply (a key of the pipeline file''s `environments`)')
            [CompletionResult]::new('--region', '--region', [CompletionResultType]::ParameterName, 'AWS region for every image and target, overriding the pipeline file')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'AWS profile for every image and target, overriding the pipeline file')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: `human` (progress on stderr, summary on stdout), `json` (one document at the end) or `ndjson` (one event per line, then the document)')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: `human` (progress on stderr, summary on stdout), `json` (one document at the end) or `ndjson` (one event per line, then the document)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colours (`auto` follows the terminal and NO_COLOR)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Show more on stderr: `-v` every step''s log (build output, changes, rollout events) also on a terminal; `-vv` also every AWS API request with its answer and time')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Show more on stderr: `-v` every step''s log (build output, changes, rollout events) also on a terminal; `-vv` also every AWS API request with its answer and time')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Show only errors and the result')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Show only errors and the result')
            [CompletionResult]::new('--no-progress', '--no-progress', [CompletionResultType]::ParameterName, 'Print plain lines instead of progress bars, even on a terminal')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'berth;generate-docs' {
            [CompletionResult]::new('-f', '-f', [CompletionResultType]::ParameterName, 'Pipeline file to read')
            [CompletionResult]::new('--file', '--file', [CompletionResultType]::ParameterName, 'Pipeline file to read')
            [CompletionResult]::new('-e', '-e', [CompletionResultType]::ParameterName, 'Environment to apply (a key of the pipeline file''s `environments`)')
            [CompletionResult]::new('--env', '--env', [CompletionResultType]::ParameterName, 'Environment to apply (a key of the pipeline file''s `environments`)')
            [CompletionResult]::new('--region', '--region', [CompletionResultType]::ParameterName, 'AWS region for every image and target, overriding the pipeline file')
            [CompletionResult]::new('--profile', '--profile', [CompletionResultType]::ParameterName, 'AWS profile for every image and target, overriding the pipeline file')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format: `human` (progress on stderr, summary on stdout), `json` (one document at the end) or `ndjson` (one event per line, then the document)')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format: `human` (progress on stderr, summary on stdout), `json` (one document at the end) or `ndjson` (one event per line, then the document)')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to use colours (`auto` follows the terminal and NO_COLOR)')
            [CompletionResult]::new('--check', '--check', [CompletionResultType]::ParameterName, 'Do not write; exit 1 when a generated file differs from what is on disk')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Show more on stderr: `-v` every step''s log (build output, changes, rollout events) also on a terminal; `-vv` also every AWS API request with its answer and time')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Show more on stderr: `-v` every step''s log (build output, changes, rollout events) also on a terminal; `-vv` also every AWS API request with its answer and time')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Show only errors and the result')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Show only errors and the result')
            [CompletionResult]::new('--no-progress', '--no-progress', [CompletionResultType]::ParameterName, 'Print plain lines instead of progress bars, even on a terminal')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'berth;help' {
            [CompletionResult]::new('validate', 'validate', [CompletionResultType]::ParameterValue, 'Check the pipeline file and the files it references. Changes nothing; needs no AWS or Docker')
            [CompletionResult]::new('plan', 'plan', [CompletionResultType]::ParameterValue, 'Show what `ship` would do: images to build and their tags, and per target the change (read-only calls to AWS). Changes nothing')
            [CompletionResult]::new('build', 'build', [CompletionResultType]::ParameterValue, 'Build images through the Docker daemon')
            [CompletionResult]::new('push', 'push', [CompletionResultType]::ParameterValue, 'Build images if needed, then push them to ECR (creating and configuring repositories)')
            [CompletionResult]::new('deploy', 'deploy', [CompletionResultType]::ParameterValue, 'Deploy images already in ECR (default: the tags the pipeline computes now)')
            [CompletionResult]::new('ship', 'ship', [CompletionResultType]::ParameterValue, 'Build and push what the selected targets need, then deploy them in dependency order, in parallel where independent')
            [CompletionResult]::new('rollback', 'rollback', [CompletionResultType]::ParameterValue, 'Put a target back to the state recorded before berth''s last deploy of it')
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Show what each target runs now: image refs, revision, rollout state')
            [CompletionResult]::new('logs', 'logs', [CompletionResultType]::ParameterValue, 'Show the last log lines of the containers a target runs now (its current revision''s ECS tasks, from CloudWatch Logs, or its pods), and follow them with `--follow`')
            [CompletionResult]::new('gc', 'gc', [CompletionResultType]::ParameterValue, 'Clean up the pipeline''s ECR repositories: keep every image a target runs, is rolling out or could roll back to (in every environment, account and region the pipeline deploys to), the newest of each tag group and the young ones; list the rest, or delete them with `--delete`')
            [CompletionResult]::new('iam-policy', 'iam-policy', [CompletionResultType]::ParameterValue, 'Print the least-privilege IAM policy for this pipeline: one document per account or role, with exactly the actions berth calls and resources scoped to what the pipeline names, and the Kubernetes RBAC Role each EKS target needs')
            [CompletionResult]::new('login', 'login', [CompletionResultType]::ParameterValue, 'Log the Docker daemon in to the pipeline''s ECR registries')
            [CompletionResult]::new('eks-token', 'eks-token', [CompletionResultType]::ParameterValue, 'Print a bearer token for an EKS cluster (as `aws eks get-token` does), or a kubeconfig that gets its tokens from berth: kubectl then needs no aws CLI')
            [CompletionResult]::new('doctor', 'doctor', [CompletionResultType]::ParameterValue, 'Check what a CI job needs: the pipeline file, the Docker daemon, AWS credentials, identity and region, each AWS service the pipeline uses, and Kubernetes access for EKS targets; each failed check with a fix. Read-only. Exit 1 when a check failed')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print a shell completion script')
            [CompletionResult]::new('generate-docs', 'generate-docs', [CompletionResultType]::ParameterValue, 'Write the generated files: completions, man page, CLI reference, JSON Schema')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'berth;help;validate' {
            break
        }
        'berth;help;plan' {
            break
        }
        'berth;help;build' {
            break
        }
        'berth;help;push' {
            break
        }
        'berth;help;deploy' {
            break
        }
        'berth;help;ship' {
            break
        }
        'berth;help;rollback' {
            break
        }
        'berth;help;status' {
            break
        }
        'berth;help;logs' {
            break
        }
        'berth;help;gc' {
            break
        }
        'berth;help;iam-policy' {
            break
        }
        'berth;help;login' {
            break
        }
        'berth;help;eks-token' {
            break
        }
        'berth;help;doctor' {
            break
        }
        'berth;help;completions' {
            break
        }
        'berth;help;generate-docs' {
            break
        }
        'berth;help;help' {
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
