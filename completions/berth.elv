
use builtin;
use str;

set edit:completion:arg-completer[berth] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'berth'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'berth'= {
            cand -f 'Pipeline file to read'
            cand --file 'Pipeline file to read'
            cand -e 'Environment to apply (a key of the pipeline file''s `environments`)'
            cand --env 'Environment to apply (a key of the pipeline file''s `environments`)'
            cand --region 'AWS region for every image and target, overriding the pipeline file'
            cand --profile 'AWS profile for every image and target, overriding the pipeline file'
            cand -o 'Output format: `human` (progress on stderr, summary on stdout), `json` (one document at the end) or `ndjson` (one event per line, then the document)'
            cand --output 'Output format: `human` (progress on stderr, summary on stdout), `json` (one document at the end) or `ndjson` (one event per line, then the document)'
            cand --color 'When to use colours (`auto` follows the terminal and NO_COLOR)'
            cand -v 'Show more on stderr: `-v` every step''s log (build output, changes, rollout events) also on a terminal; `-vv` also every AWS API request with its answer and time'
            cand --verbose 'Show more on stderr: `-v` every step''s log (build output, changes, rollout events) also on a terminal; `-vv` also every AWS API request with its answer and time'
            cand -q 'Show only errors and the result'
            cand --quiet 'Show only errors and the result'
            cand --no-progress 'Print plain lines instead of progress bars, even on a terminal'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand validate 'Check the pipeline file and the files it references. Changes nothing; needs no AWS or Docker'
            cand plan 'Show what `ship` would do: images to build and their tags, and per target the change (read-only calls to AWS). Changes nothing'
            cand build 'Build images through the Docker daemon'
            cand push 'Build images if needed, then push them to ECR (creating and configuring repositories)'
            cand deploy 'Deploy images already in ECR (default: the tags the pipeline computes now)'
            cand ship 'Build and push what the selected targets need, then deploy them in dependency order, in parallel where independent'
            cand rollback 'Put a target back to the state recorded before berth''s last deploy of it'
            cand status 'Show what each target runs now: image refs, revision, rollout state'
            cand logs 'Show the last log lines of the containers a target runs now (its current revision''s ECS tasks, from CloudWatch Logs, or its pods), and follow them with `--follow`'
            cand gc 'Clean up the pipeline''s ECR repositories: keep every image a target runs, is rolling out or could roll back to (in every environment, account and region the pipeline deploys to), the newest of each tag group and the young ones; list the rest, or delete them with `--delete`'
            cand iam-policy 'Print the least-privilege IAM policy for this pipeline: one document per account or role, with exactly the actions berth calls and resources scoped to what the pipeline names, and the Kubernetes RBAC Role each EKS target needs'
            cand login 'Log the Docker daemon in to the pipeline''s ECR registries'
            cand eks-token 'Print a bearer token for an EKS cluster (as `aws eks get-token` does), or a kubeconfig that gets its tokens from berth: kubectl then needs no aws CLI'
            cand doctor 'Check what a CI job needs: the pipeline file, the Docker daemon, AWS credentials, identity and region, each AWS service the pipeline uses, and Kubernetes access for EKS targets; each failed check with a fix. Read-only. Exit 1 when a check failed'
            cand completions 'Print a shell completion script'
            cand generate-docs 'Write the generated files: completions, man page, CLI reference, JSON Schema'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'berth;validate'= {
            cand -f 'Pipeline file to read'
            cand --file 'Pipeline file to read'
            cand -e 'Environment to apply (a key of the pipeline file''s `environments`)'
            cand --env 'Environment to apply (a key of the pipeline file''s `environments`)'
            cand --region 'AWS region for every image and target, overriding the pipeline file'
            cand --profile 'AWS profile for every image and target, overriding the pipeline file'
            cand -o 'Output format: `human` (progress on stderr, summary on stdout), `json` (one document at the end) or `ndjson` (one event per line, then the document)'
            cand --output 'Output format: `human` (progress on stderr, summary on stdout), `json` (one document at the end) or `ndjson` (one event per line, then the document)'
            cand --color 'When to use colours (`auto` follows the terminal and NO_COLOR)'
            cand -v 'Show more on stderr: `-v` every step''s log (build output, changes, rollout events) also on a terminal; `-vv` also every AWS API request with its answer and time'
            cand --verbose 'Show more on stderr: `-v` every step''s log (build output, changes, rollout events) also on a terminal; `-vv` also every AWS API request with its answer and time'
            cand -q 'Show only errors and the result'
            cand --quiet 'Show only errors and the result'
            cand --no-progress 'Print plain lines instead of progress bars, even on a terminal'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'berth;plan'= {
            cand --image 'Plan the deploy of this image reference for an image instead of the computed tag (repeatable), as `deploy --image` would do it'
            cand -f 'Pipeline file to read'
            cand --file 'Pipeline file to read'
            cand -e 'Environment to apply (a key of the pipeline file''s `environments`)'
            cand --env 'Environment to apply (a key of the pipeline file''s `environments`)'
            cand --region 'AWS region for every image and target, overriding the pipeline file'
            cand --profile 'AWS profile for every image and target, overriding the pipeline file'
            cand -o 'Output format: `human` (progress on stderr, summary on stdout), `json` (one document at the end) or `ndjson` (one event per line, then the document)'
            cand --output 'Output format: `human` (progress on stderr, summary on stdout), `json` (one document at the end) or `ndjson` (one event per line, then the document)'
            cand --color 'When to use colours (`auto` follows the terminal and NO_COLOR)'
            cand --static 'Plan from the pipeline file alone, without asking AWS what runs now (no credentials needed)'
            cand -v 'Show more on stderr: `-v` every step''s log (build output, changes, rollout events) also on a terminal; `-vv` also every AWS API request with its answer and time'
            cand --verbose 'Show more on stderr: `-v` every step''s log (build output, changes, rollout events) also on a terminal; `-vv` also every AWS API request with its answer and time'
            cand -q 'Show only errors and the result'
            cand --quiet 'Show only errors and the result'
            cand --no-progress 'Print plain lines instead of progress bars, even on a terminal'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'berth;build'= {
            cand -j 'How many steps run at once, builds included (default: one build per CPU, and up to 16 steps in all, since pushes and deploys mostly wait on the network)'
            cand --jobs 'How many steps run at once, builds included (default: one build per CPU, and up to 16 steps in all, since pushes and deploys mostly wait on the network)'
            cand -f 'Pipeline file to read'
            cand --file 'Pipeline file to read'
            cand -e 'Environment to apply (a key of the pipeline file''s `environments`)'
            cand --env 'Environment to apply (a key of the pipeline file''s `environments`)'
            cand --region 'AWS region for every image and target, overriding the pipeline file'
            cand --profile 'AWS profile for every image and target, overriding the pipeline file'
            cand -o 'Output format: `human` (progress on stderr, summary on stdout), `json` (one document at the end) or `ndjson` (one event per line, then the document)'
            cand --output 'Output format: `human` (progress on stderr, summary on stdout), `json` (one document at the end) or `ndjson` (one event per line, then the document)'
            cand --color 'When to use colours (`auto` follows the terminal and NO_COLOR)'
            cand --no-cache 'Build without the Docker layer cache'
            cand --pull 'Always pull newer versions of base images'
            cand -v 'Show more on stderr: `-v` every step''s log (build output, changes, rollout events) also on a terminal; `-vv` also every AWS API request with its answer and time'
            cand --verbose 'Show more on stderr: `-v` every step''s log (build output, changes, rollout events) also on a terminal; `-vv` also every AWS API request with its answer and time'
            cand -q 'Show only errors and the result'
            cand --quiet 'Show only errors and the result'
            cand --no-progress 'Print plain lines instead of progress bars, even on a terminal'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'berth;push'= {
            cand --push-via 'How images are pushed, for every image (default: each image''s `push_via`, else `registry`)'
            cand -j 'How many steps run at once, builds included (default: one build per CPU, and up to 16 steps in all, since pushes and deploys mostly wait on the network)'
            cand --jobs 'How many steps run at once, builds included (default: one build per CPU, and up to 16 steps in all, since pushes and deploys mostly wait on the network)'
            cand -f 'Pipeline file to read'
            cand --file 'Pipeline file to read'
            cand -e 'Environment to apply (a key of the pipeline file''s `environments`)'
            cand --env 'Environment to apply (a key of the pipeline file''s `environments`)'
            cand --region 'AWS region for every image and target, overriding the pipeline file'
            cand --profile 'AWS profile for every image and target, overriding the pipeline file'
            cand -o 'Output format: `human` (progress on stderr, summary on stdout), `json` (one document at the end) or `ndjson` (one event per line, then the document)'
            cand --output 'Output format: `human` (progress on stderr, summary on stdout), `json` (one document at the end) or `ndjson` (one event per line, then the document)'
            cand --color 'When to use colours (`auto` follows the terminal and NO_COLOR)'
            cand --no-cache 'Build without the Docker layer cache'
            cand --pull 'Always pull newer versions of base images'
            cand -v 'Show more on stderr: `-v` every step''s log (build output, changes, rollout events) also on a terminal; `-vv` also every AWS API request with its answer and time'
            cand --verbose 'Show more on stderr: `-v` every step''s log (build output, changes, rollout events) also on a terminal; `-vv` also every AWS API request with its answer and time'
            cand -q 'Show only errors and the result'
            cand --quiet 'Show only errors and the result'
            cand --no-progress 'Print plain lines instead of progress bars, even on a terminal'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'berth;deploy'= {
            cand --image 'Deploy this image reference for an image instead of the computed tag (repeatable), e.g. `--image web=123456789012.dkr.ecr.us-east-1.amazonaws.com/shop/web@sha256:…`'
            cand --wait-until 'Stop watching each ECS service deployment (BLUE_GREEN, LINEAR or CANARY strategy) once it reaches this lifecycle stage, e.g. TEST_TRAFFIC_SHIFT, and report it `paused` (overrides the targets'' `wait_until`)'
            cand -j 'How many steps run at once, builds included (default: one build per CPU, and up to 16 steps in all, since pushes and deploys mostly wait on the network)'
            cand --jobs 'How many steps run at once, builds included (default: one build per CPU, and up to 16 steps in all, since pushes and deploys mostly wait on the network)'
            cand -f 'Pipeline file to read'
            cand --file 'Pipeline file to read'
            cand -e 'Environment to apply (a key of the pipeline file''s `environments`)'
            cand --env 'Environment to apply (a key of the pipeline file''s `environments`)'
            cand --region 'AWS region for every image and target, overriding the pipeline file'
            cand --profile 'AWS profile for every image and target, overriding the pipeline file'
            cand -o 'Output format: `human` (progress on stderr, summary on stdout), `json` (one document at the end) or `ndjson` (one event per line, then the document)'
            cand --output 'Output format: `human` (progress on stderr, summary on stdout), `json` (one document at the end) or `ndjson` (one event per line, then the document)'
            cand --color 'When to use colours (`auto` follows the terminal and NO_COLOR)'
            cand --continue 'Deploy nothing: follow the named targets'' service deployments (left running by `wait_until`) to their end, and report how they ended'
            cand --fail-fast 'Stop starting new steps after the first failure (running ones finish)'
            cand --no-wait-lock 'Fail at once when another berth run holds a target''s lock, instead of waiting for it (for at most the target''s timeout)'
            cand -v 'Show more on stderr: `-v` every step''s log (build output, changes, rollout events) also on a terminal; `-vv` also every AWS API request with its answer and time'
            cand --verbose 'Show more on stderr: `-v` every step''s log (build output, changes, rollout events) also on a terminal; `-vv` also every AWS API request with its answer and time'
            cand -q 'Show only errors and the result'
            cand --quiet 'Show only errors and the result'
            cand --no-progress 'Print plain lines instead of progress bars, even on a terminal'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'berth;ship'= {
            cand --image 'Deploy this image reference for an image instead of building it (repeatable)'
            cand --push-via 'How images are pushed, for every image (default: each image''s `push_via`, else `registry`)'
            cand -j 'How many steps run at once, builds included (default: one build per CPU, and up to 16 steps in all, since pushes and deploys mostly wait on the network)'
            cand --jobs 'How many steps run at once, builds included (default: one build per CPU, and up to 16 steps in all, since pushes and deploys mostly wait on the network)'
            cand -f 'Pipeline file to read'
            cand --file 'Pipeline file to read'
            cand -e 'Environment to apply (a key of the pipeline file''s `environments`)'
            cand --env 'Environment to apply (a key of the pipeline file''s `environments`)'
            cand --region 'AWS region for every image and target, overriding the pipeline file'
            cand --profile 'AWS profile for every image and target, overriding the pipeline file'
            cand -o 'Output format: `human` (progress on stderr, summary on stdout), `json` (one document at the end) or `ndjson` (one event per line, then the document)'
            cand --output 'Output format: `human` (progress on stderr, summary on stdout), `json` (one document at the end) or `ndjson` (one event per line, then the document)'
            cand --color 'When to use colours (`auto` follows the terminal and NO_COLOR)'
            cand --no-cache 'Build without the Docker layer cache'
            cand --pull 'Always pull newer versions of base images'
            cand --fail-fast 'Stop starting new steps after the first failure (running ones finish)'
            cand --no-wait-lock 'Fail at once when another berth run holds a target''s lock, instead of waiting for it (for at most the target''s timeout)'
            cand -v 'Show more on stderr: `-v` every step''s log (build output, changes, rollout events) also on a terminal; `-vv` also every AWS API request with its answer and time'
            cand --verbose 'Show more on stderr: `-v` every step''s log (build output, changes, rollout events) also on a terminal; `-vv` also every AWS API request with its answer and time'
            cand -q 'Show only errors and the result'
            cand --quiet 'Show only errors and the result'
            cand --no-progress 'Print plain lines instead of progress bars, even on a terminal'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'berth;rollback'= {
            cand -f 'Pipeline file to read'
            cand --file 'Pipeline file to read'
            cand -e 'Environment to apply (a key of the pipeline file''s `environments`)'
            cand --env 'Environment to apply (a key of the pipeline file''s `environments`)'
            cand --region 'AWS region for every image and target, overriding the pipeline file'
            cand --profile 'AWS profile for every image and target, overriding the pipeline file'
            cand -o 'Output format: `human` (progress on stderr, summary on stdout), `json` (one document at the end) or `ndjson` (one event per line, then the document)'
            cand --output 'Output format: `human` (progress on stderr, summary on stdout), `json` (one document at the end) or `ndjson` (one event per line, then the document)'
            cand --color 'When to use colours (`auto` follows the terminal and NO_COLOR)'
            cand --no-wait-lock 'Fail at once when another berth run holds a target''s lock, instead of waiting for it (for at most the target''s timeout)'
            cand -v 'Show more on stderr: `-v` every step''s log (build output, changes, rollout events) also on a terminal; `-vv` also every AWS API request with its answer and time'
            cand --verbose 'Show more on stderr: `-v` every step''s log (build output, changes, rollout events) also on a terminal; `-vv` also every AWS API request with its answer and time'
            cand -q 'Show only errors and the result'
            cand --quiet 'Show only errors and the result'
            cand --no-progress 'Print plain lines instead of progress bars, even on a terminal'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'berth;status'= {
            cand -f 'Pipeline file to read'
            cand --file 'Pipeline file to read'
            cand -e 'Environment to apply (a key of the pipeline file''s `environments`)'
            cand --env 'Environment to apply (a key of the pipeline file''s `environments`)'
            cand --region 'AWS region for every image and target, overriding the pipeline file'
            cand --profile 'AWS profile for every image and target, overriding the pipeline file'
            cand -o 'Output format: `human` (progress on stderr, summary on stdout), `json` (one document at the end) or `ndjson` (one event per line, then the document)'
            cand --output 'Output format: `human` (progress on stderr, summary on stdout), `json` (one document at the end) or `ndjson` (one event per line, then the document)'
            cand --color 'When to use colours (`auto` follows the terminal and NO_COLOR)'
            cand -v 'Show more on stderr: `-v` every step''s log (build output, changes, rollout events) also on a terminal; `-vv` also every AWS API request with its answer and time'
            cand --verbose 'Show more on stderr: `-v` every step''s log (build output, changes, rollout events) also on a terminal; `-vv` also every AWS API request with its answer and time'
            cand -q 'Show only errors and the result'
            cand --quiet 'Show only errors and the result'
            cand --no-progress 'Print plain lines instead of progress bars, even on a terminal'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'berth;logs'= {
            cand -n 'How many of the last lines of each container to show'
            cand --lines 'How many of the last lines of each container to show'
            cand -f 'Pipeline file to read'
            cand --file 'Pipeline file to read'
            cand -e 'Environment to apply (a key of the pipeline file''s `environments`)'
            cand --env 'Environment to apply (a key of the pipeline file''s `environments`)'
            cand --region 'AWS region for every image and target, overriding the pipeline file'
            cand --profile 'AWS profile for every image and target, overriding the pipeline file'
            cand -o 'Output format: `human` (progress on stderr, summary on stdout), `json` (one document at the end) or `ndjson` (one event per line, then the document)'
            cand --output 'Output format: `human` (progress on stderr, summary on stdout), `json` (one document at the end) or `ndjson` (one event per line, then the document)'
            cand --color 'When to use colours (`auto` follows the terminal and NO_COLOR)'
            cand --follow 'Keep showing new lines as they are logged, until interrupted (Ctrl-C)'
            cand -v 'Show more on stderr: `-v` every step''s log (build output, changes, rollout events) also on a terminal; `-vv` also every AWS API request with its answer and time'
            cand --verbose 'Show more on stderr: `-v` every step''s log (build output, changes, rollout events) also on a terminal; `-vv` also every AWS API request with its answer and time'
            cand -q 'Show only errors and the result'
            cand --quiet 'Show only errors and the result'
            cand --no-progress 'Print plain lines instead of progress bars, even on a terminal'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'berth;gc'= {
            cand --keep-newest 'Keep the newest N images of each tag group'
            cand --group-by 'Group tags by this regular expression''s first capture group, e.g. `^(.+)-[0-9a-f]{7}$` for one group per branch of `BRANCH-SHA` tags; tags it does not match form one group. Default: one group'
            cand --keep-younger-than 'Keep images pushed less than this long ago (`0s`: none are kept for their age)'
            cand --keep-revisions 'How many replaced ECS task definition revisions count as rollback points (and how many of a family''s newest revisions are kept)'
            cand -f 'Pipeline file to read'
            cand --file 'Pipeline file to read'
            cand -e 'Environment to apply (a key of the pipeline file''s `environments`)'
            cand --env 'Environment to apply (a key of the pipeline file''s `environments`)'
            cand --region 'AWS region for every image and target, overriding the pipeline file'
            cand --profile 'AWS profile for every image and target, overriding the pipeline file'
            cand -o 'Output format: `human` (progress on stderr, summary on stdout), `json` (one document at the end) or `ndjson` (one event per line, then the document)'
            cand --output 'Output format: `human` (progress on stderr, summary on stdout), `json` (one document at the end) or `ndjson` (one event per line, then the document)'
            cand --color 'When to use colours (`auto` follows the terminal and NO_COLOR)'
            cand --delete 'Delete the deletable images (without it, gc only lists them)'
            cand -v 'Show more on stderr: `-v` every step''s log (build output, changes, rollout events) also on a terminal; `-vv` also every AWS API request with its answer and time'
            cand --verbose 'Show more on stderr: `-v` every step''s log (build output, changes, rollout events) also on a terminal; `-vv` also every AWS API request with its answer and time'
            cand -q 'Show only errors and the result'
            cand --quiet 'Show only errors and the result'
            cand --no-progress 'Print plain lines instead of progress bars, even on a terminal'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'berth;iam-policy'= {
            cand -f 'Pipeline file to read'
            cand --file 'Pipeline file to read'
            cand -e 'Environment to apply (a key of the pipeline file''s `environments`)'
            cand --env 'Environment to apply (a key of the pipeline file''s `environments`)'
            cand --region 'AWS region for every image and target, overriding the pipeline file'
            cand --profile 'AWS profile for every image and target, overriding the pipeline file'
            cand -o 'Output format: `human` (progress on stderr, summary on stdout), `json` (one document at the end) or `ndjson` (one event per line, then the document)'
            cand --output 'Output format: `human` (progress on stderr, summary on stdout), `json` (one document at the end) or `ndjson` (one event per line, then the document)'
            cand --color 'When to use colours (`auto` follows the terminal and NO_COLOR)'
            cand --gc 'Also allow what `berth gc --delete` calls (ecr:BatchDeleteImage, the task definition history of ECS targets)'
            cand -v 'Show more on stderr: `-v` every step''s log (build output, changes, rollout events) also on a terminal; `-vv` also every AWS API request with its answer and time'
            cand --verbose 'Show more on stderr: `-v` every step''s log (build output, changes, rollout events) also on a terminal; `-vv` also every AWS API request with its answer and time'
            cand -q 'Show only errors and the result'
            cand --quiet 'Show only errors and the result'
            cand --no-progress 'Print plain lines instead of progress bars, even on a terminal'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'berth;login'= {
            cand -f 'Pipeline file to read'
            cand --file 'Pipeline file to read'
            cand -e 'Environment to apply (a key of the pipeline file''s `environments`)'
            cand --env 'Environment to apply (a key of the pipeline file''s `environments`)'
            cand --region 'AWS region for every image and target, overriding the pipeline file'
            cand --profile 'AWS profile for every image and target, overriding the pipeline file'
            cand -o 'Output format: `human` (progress on stderr, summary on stdout), `json` (one document at the end) or `ndjson` (one event per line, then the document)'
            cand --output 'Output format: `human` (progress on stderr, summary on stdout), `json` (one document at the end) or `ndjson` (one event per line, then the document)'
            cand --color 'When to use colours (`auto` follows the terminal and NO_COLOR)'
            cand --print-password 'Print the registry password to stdout instead of logging the daemon in (like `aws ecr get-login-password`)'
            cand -v 'Show more on stderr: `-v` every step''s log (build output, changes, rollout events) also on a terminal; `-vv` also every AWS API request with its answer and time'
            cand --verbose 'Show more on stderr: `-v` every step''s log (build output, changes, rollout events) also on a terminal; `-vv` also every AWS API request with its answer and time'
            cand -q 'Show only errors and the result'
            cand --quiet 'Show only errors and the result'
            cand --no-progress 'Print plain lines instead of progress bars, even on a terminal'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'berth;eks-token'= {
            cand -f 'Pipeline file to read'
            cand --file 'Pipeline file to read'
            cand -e 'Environment to apply (a key of the pipeline file''s `environments`)'
            cand --env 'Environment to apply (a key of the pipeline file''s `environments`)'
            cand --region 'AWS region for every image and target, overriding the pipeline file'
            cand --profile 'AWS profile for every image and target, overriding the pipeline file'
            cand -o 'Output format: `human` (progress on stderr, summary on stdout), `json` (one document at the end) or `ndjson` (one event per line, then the document)'
            cand --output 'Output format: `human` (progress on stderr, summary on stdout), `json` (one document at the end) or `ndjson` (one event per line, then the document)'
            cand --color 'When to use colours (`auto` follows the terminal and NO_COLOR)'
            cand --kubeconfig 'Print a kubeconfig for the cluster (endpoint and CA from DescribeCluster, berth as the exec plugin) instead of a token'
            cand -v 'Show more on stderr: `-v` every step''s log (build output, changes, rollout events) also on a terminal; `-vv` also every AWS API request with its answer and time'
            cand --verbose 'Show more on stderr: `-v` every step''s log (build output, changes, rollout events) also on a terminal; `-vv` also every AWS API request with its answer and time'
            cand -q 'Show only errors and the result'
            cand --quiet 'Show only errors and the result'
            cand --no-progress 'Print plain lines instead of progress bars, even on a terminal'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'berth;doctor'= {
            cand -f 'Pipeline file to read'
            cand --file 'Pipeline file to read'
            cand -e 'Environment to apply (a key of the pipeline file''s `environments`)'
            cand --env 'Environment to apply (a key of the pipeline file''s `environments`)'
            cand --region 'AWS region for every image and target, overriding the pipeline file'
            cand --profile 'AWS profile for every image and target, overriding the pipeline file'
            cand -o 'Output format: `human` (progress on stderr, summary on stdout), `json` (one document at the end) or `ndjson` (one event per line, then the document)'
            cand --output 'Output format: `human` (progress on stderr, summary on stdout), `json` (one document at the end) or `ndjson` (one event per line, then the document)'
            cand --color 'When to use colours (`auto` follows the terminal and NO_COLOR)'
            cand -v 'Show more on stderr: `-v` every step''s log (build output, changes, rollout events) also on a terminal; `-vv` also every AWS API request with its answer and time'
            cand --verbose 'Show more on stderr: `-v` every step''s log (build output, changes, rollout events) also on a terminal; `-vv` also every AWS API request with its answer and time'
            cand -q 'Show only errors and the result'
            cand --quiet 'Show only errors and the result'
            cand --no-progress 'Print plain lines instead of progress bars, even on a terminal'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'berth;completions'= {
            cand -f 'Pipeline file to read'
            cand --file 'Pipeline file to read'
            cand -e 'Environment to apply (a key of the pipeline file''s `environments`)'
            cand --env 'Environment to apply (a key of the pipeline file''s `environments`)'
            cand --region 'AWS region for every image and target, overriding the pipeline file'
            cand --profile 'AWS profile for every image and target, overriding the pipeline file'
            cand -o 'Output format: `human` (progress on stderr, summary on stdout), `json` (one document at the end) or `ndjson` (one event per line, then the document)'
            cand --output 'Output format: `human` (progress on stderr, summary on stdout), `json` (one document at the end) or `ndjson` (one event per line, then the document)'
            cand --color 'When to use colours (`auto` follows the terminal and NO_COLOR)'
            cand -v 'Show more on stderr: `-v` every step''s log (build output, changes, rollout events) also on a terminal; `-vv` also every AWS API request with its answer and time'
            cand --verbose 'Show more on stderr: `-v` every step''s log (build output, changes, rollout events) also on a terminal; `-vv` also every AWS API request with its answer and time'
            cand -q 'Show only errors and the result'
            cand --quiet 'Show only errors and the result'
            cand --no-progress 'Print plain lines instead of progress bars, even on a terminal'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'berth;generate-docs'= {
            cand -f 'Pipeline file to read'
            cand --file 'Pipeline file to read'
            cand -e 'Environment to apply (a key of the pipeline file''s `environments`)'
            cand --env 'Environment to apply (a key of the pipeline file''s `environments`)'
            cand --region 'AWS region for every image and target, overriding the pipeline file'
            cand --profile 'AWS profile for every image and target, overriding the pipeline file'
            cand -o 'Output format: `human` (progress on stderr, summary on stdout), `json` (one document at the end) or `ndjson` (one event per line, then the document)'
            cand --output 'Output format: `human` (progress on stderr, summary on stdout), `json` (one document at the end) or `ndjson` (one event per line, then the document)'
            cand --color 'When to use colours (`auto` follows the terminal and NO_COLOR)'
            cand --check 'Do not write; exit 1 when a generated file differs from what is on disk'
            cand -v 'Show more on stderr: `-v` every step''s log (build output, changes, rollout events) also on a terminal; `-vv` also every AWS API request with its answer and time'
            cand --verbose 'Show more on stderr: `-v` every step''s log (build output, changes, rollout events) also on a terminal; `-vv` also every AWS API request with its answer and time'
            cand -q 'Show only errors and the result'
            cand --quiet 'Show only errors and the result'
            cand --no-progress 'Print plain lines instead of progress bars, even on a terminal'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'berth;help'= {
            cand validate 'Check the pipeline file and the files it references. Changes nothing; needs no AWS or Docker'
            cand plan 'Show what `ship` would do: images to build and their tags, and per target the change (read-only calls to AWS). Changes nothing'
            cand build 'Build images through the Docker daemon'
            cand push 'Build images if needed, then push them to ECR (creating and configuring repositories)'
            cand deploy 'Deploy images already in ECR (default: the tags the pipeline computes now)'
            cand ship 'Build and push what the selected targets need, then deploy them in dependency order, in parallel where independent'
            cand rollback 'Put a target back to the state recorded before berth''s last deploy of it'
            cand status 'Show what each target runs now: image refs, revision, rollout state'
            cand logs 'Show the last log lines of the containers a target runs now (its current revision''s ECS tasks, from CloudWatch Logs, or its pods), and follow them with `--follow`'
            cand gc 'Clean up the pipeline''s ECR repositories: keep every image a target runs, is rolling out or could roll back to (in every environment, account and region the pipeline deploys to), the newest of each tag group and the young ones; list the rest, or delete them with `--delete`'
            cand iam-policy 'Print the least-privilege IAM policy for this pipeline: one document per account or role, with exactly the actions berth calls and resources scoped to what the pipeline names, and the Kubernetes RBAC Role each EKS target needs'
            cand login 'Log the Docker daemon in to the pipeline''s ECR registries'
            cand eks-token 'Print a bearer token for an EKS cluster (as `aws eks get-token` does), or a kubeconfig that gets its tokens from berth: kubectl then needs no aws CLI'
            cand doctor 'Check what a CI job needs: the pipeline file, the Docker daemon, AWS credentials, identity and region, each AWS service the pipeline uses, and Kubernetes access for EKS targets; each failed check with a fix. Read-only. Exit 1 when a check failed'
            cand completions 'Print a shell completion script'
            cand generate-docs 'Write the generated files: completions, man page, CLI reference, JSON Schema'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'berth;help;validate'= {
        }
        &'berth;help;plan'= {
        }
        &'berth;help;build'= {
        }
        &'berth;help;push'= {
        }
        &'berth;help;deploy'= {
        }
        &'berth;help;ship'= {
        }
        &'berth;help;rollback'= {
        }
        &'berth;help;status'= {
        }
        &'berth;help;logs'= {
        }
        &'berth;help;gc'= {
        }
        &'berth;help;iam-policy'= {
        }
        &'berth;help;login'= {
        }
        &'berth;help;eks-token'= {
        }
        &'berth;help;doctor'= {
        }
        &'berth;help;completions'= {
        }
        &'berth;help;generate-docs'= {
        }
        &'berth;help;help'= {
        }
    ]
    $completions[$command]
}
