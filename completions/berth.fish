# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_berth_global_optspecs
    string join \n f/file= e/env= region= profile= o/output= v/verbose q/quiet no-progress color= h/help V/version
end

function __fish_berth_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_berth_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_berth_using_subcommand
    set -l cmd (__fish_berth_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c berth -n "__fish_berth_needs_command" -s f -l file -d 'Pipeline file to read' -r -F
complete -c berth -n "__fish_berth_needs_command" -s e -l env -d 'Environment to apply (a key of the pipeline file\'s `environments`)' -r
complete -c berth -n "__fish_berth_needs_command" -l region -d 'AWS region for every image and target, overriding the pipeline file' -r
complete -c berth -n "__fish_berth_needs_command" -l profile -d 'AWS profile for every image and target, overriding the pipeline file' -r
complete -c berth -n "__fish_berth_needs_command" -s o -l output -d 'Output format: `human` (progress on stderr, summary on stdout), `json` (one document at the end) or `ndjson` (one event per line, then the document)' -r -f -a "human\t''
json\t''
ndjson\t''"
complete -c berth -n "__fish_berth_needs_command" -l color -d 'When to use colours (`auto` follows the terminal and NO_COLOR)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c berth -n "__fish_berth_needs_command" -s v -l verbose -d 'Show more on stderr: `-v` every step\'s log (build output, changes, rollout events) also on a terminal; `-vv` also every AWS API request with its answer and time'
complete -c berth -n "__fish_berth_needs_command" -s q -l quiet -d 'Show only errors and the result'
complete -c berth -n "__fish_berth_needs_command" -l no-progress -d 'Print plain lines instead of progress bars, even on a terminal'
complete -c berth -n "__fish_berth_needs_command" -s h -l help -d 'Print help'
complete -c berth -n "__fish_berth_needs_command" -s V -l version -d 'Print version'
complete -c berth -n "__fish_berth_needs_command" -f -a "validate" -d 'Check the pipeline file and the files it references. Changes nothing; needs no AWS or Docker'
complete -c berth -n "__fish_berth_needs_command" -f -a "plan" -d 'Show what `ship` would do: images to build and their tags, and per target the change (read-only calls to AWS). Changes nothing'
complete -c berth -n "__fish_berth_needs_command" -f -a "build" -d 'Build images through the Docker daemon'
complete -c berth -n "__fish_berth_needs_command" -f -a "push" -d 'Build images if needed, then push them to ECR (creating and configuring repositories)'
complete -c berth -n "__fish_berth_needs_command" -f -a "deploy" -d 'Deploy images already in ECR (default: the tags the pipeline computes now)'
complete -c berth -n "__fish_berth_needs_command" -f -a "ship" -d 'Build and push what the selected targets need, then deploy them in dependency order, in parallel where independent'
complete -c berth -n "__fish_berth_needs_command" -f -a "rollback" -d 'Put a target back to the state recorded before berth\'s last deploy of it'
complete -c berth -n "__fish_berth_needs_command" -f -a "status" -d 'Show what each target runs now: image refs, revision, rollout state'
complete -c berth -n "__fish_berth_needs_command" -f -a "logs" -d 'Show the last log lines of the containers a target runs now (its current revision\'s ECS tasks, from CloudWatch Logs, or its pods), and follow them with `--follow`'
complete -c berth -n "__fish_berth_needs_command" -f -a "gc" -d 'Clean up the pipeline\'s ECR repositories: keep every image a target runs, is rolling out or could roll back to (in every environment, account and region the pipeline deploys to), the newest of each tag group and the young ones; list the rest, or delete them with `--delete`'
complete -c berth -n "__fish_berth_needs_command" -f -a "iam-policy" -d 'Print the least-privilege IAM policy for this pipeline: one document per account or role, with exactly the actions berth calls and resources scoped to what the pipeline names, and the Kubernetes RBAC Role each EKS target needs'
complete -c berth -n "__fish_berth_needs_command" -f -a "login" -d 'Log the Docker daemon in to the pipeline\'s ECR registries'
complete -c berth -n "__fish_berth_needs_command" -f -a "eks-token" -d 'Print a bearer token for an EKS cluster (as `aws eks get-token` does), or a kubeconfig that gets its tokens from berth: kubectl then needs no aws CLI'
complete -c berth -n "__fish_berth_needs_command" -f -a "doctor" -d 'Check what a CI job needs: the pipeline file, the Docker daemon, AWS credentials, identity and region, each AWS service the pipeline uses, and Kubernetes access for EKS targets; each failed check with a fix. Read-only. Exit 1 when a check failed'
complete -c berth -n "__fish_berth_needs_command" -f -a "completions" -d 'Print a shell completion script'
complete -c berth -n "__fish_berth_needs_command" -f -a "generate-docs" -d 'Write the generated files: completions, man page, CLI reference, JSON Schema'
complete -c berth -n "__fish_berth_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c berth -n "__fish_berth_using_subcommand validate" -s f -l file -d 'Pipeline file to read' -r -F
complete -c berth -n "__fish_berth_using_subcommand validate" -s e -l env -d 'Environment to apply (a key of the pipeline file\'s `environments`)' -r
complete -c berth -n "__fish_berth_using_subcommand validate" -l region -d 'AWS region for every image and target, overriding the pipeline file' -r
complete -c berth -n "__fish_berth_using_subcommand validate" -l profile -d 'AWS profile for every image and target, overriding the pipeline file' -r
complete -c berth -n "__fish_berth_using_subcommand validate" -s o -l output -d 'Output format: `human` (progress on stderr, summary on stdout), `json` (one document at the end) or `ndjson` (one event per line, then the document)' -r -f -a "human\t''
json\t''
ndjson\t''"
complete -c berth -n "__fish_berth_using_subcommand validate" -l color -d 'When to use colours (`auto` follows the terminal and NO_COLOR)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c berth -n "__fish_berth_using_subcommand validate" -s v -l verbose -d 'Show more on stderr: `-v` every step\'s log (build output, changes, rollout events) also on a terminal; `-vv` also every AWS API request with its answer and time'
complete -c berth -n "__fish_berth_using_subcommand validate" -s q -l quiet -d 'Show only errors and the result'
complete -c berth -n "__fish_berth_using_subcommand validate" -l no-progress -d 'Print plain lines instead of progress bars, even on a terminal'
complete -c berth -n "__fish_berth_using_subcommand validate" -s h -l help -d 'Print help'
complete -c berth -n "__fish_berth_using_subcommand plan" -l image -d 'Plan the deploy of this image reference for an image instead of the computed tag (repeatable), as `deploy --image` would do it' -r
complete -c berth -n "__fish_berth_using_subcommand plan" -s f -l file -d 'Pipeline file to read' -r -F
complete -c berth -n "__fish_berth_using_subcommand plan" -s e -l env -d 'Environment to apply (a key of the pipeline file\'s `environments`)' -r
complete -c berth -n "__fish_berth_using_subcommand plan" -l region -d 'AWS region for every image and target, overriding the pipeline file' -r
complete -c berth -n "__fish_berth_using_subcommand plan" -l profile -d 'AWS profile for every image and target, overriding the pipeline file' -r
complete -c berth -n "__fish_berth_using_subcommand plan" -s o -l output -d 'Output format: `human` (progress on stderr, summary on stdout), `json` (one document at the end) or `ndjson` (one event per line, then the document)' -r -f -a "human\t''
json\t''
ndjson\t''"
complete -c berth -n "__fish_berth_using_subcommand plan" -l color -d 'When to use colours (`auto` follows the terminal and NO_COLOR)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c berth -n "__fish_berth_using_subcommand plan" -l static -d 'Plan from the pipeline file alone, without asking AWS what runs now (no credentials needed)'
complete -c berth -n "__fish_berth_using_subcommand plan" -s v -l verbose -d 'Show more on stderr: `-v` every step\'s log (build output, changes, rollout events) also on a terminal; `-vv` also every AWS API request with its answer and time'
complete -c berth -n "__fish_berth_using_subcommand plan" -s q -l quiet -d 'Show only errors and the result'
complete -c berth -n "__fish_berth_using_subcommand plan" -l no-progress -d 'Print plain lines instead of progress bars, even on a terminal'
complete -c berth -n "__fish_berth_using_subcommand plan" -s h -l help -d 'Print help'
complete -c berth -n "__fish_berth_using_subcommand build" -s j -l jobs -d 'How many steps run at once, builds included (default: one build per CPU, and up to 16 steps in all, since pushes and deploys mostly wait on the network)' -r
complete -c berth -n "__fish_berth_using_subcommand build" -s f -l file -d 'Pipeline file to read' -r -F
complete -c berth -n "__fish_berth_using_subcommand build" -s e -l env -d 'Environment to apply (a key of the pipeline file\'s `environments`)' -r
complete -c berth -n "__fish_berth_using_subcommand build" -l region -d 'AWS region for every image and target, overriding the pipeline file' -r
complete -c berth -n "__fish_berth_using_subcommand build" -l profile -d 'AWS profile for every image and target, overriding the pipeline file' -r
complete -c berth -n "__fish_berth_using_subcommand build" -s o -l output -d 'Output format: `human` (progress on stderr, summary on stdout), `json` (one document at the end) or `ndjson` (one event per line, then the document)' -r -f -a "human\t''
json\t''
ndjson\t''"
complete -c berth -n "__fish_berth_using_subcommand build" -l color -d 'When to use colours (`auto` follows the terminal and NO_COLOR)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c berth -n "__fish_berth_using_subcommand build" -l no-cache -d 'Build without the Docker layer cache'
complete -c berth -n "__fish_berth_using_subcommand build" -l pull -d 'Always pull newer versions of base images'
complete -c berth -n "__fish_berth_using_subcommand build" -s v -l verbose -d 'Show more on stderr: `-v` every step\'s log (build output, changes, rollout events) also on a terminal; `-vv` also every AWS API request with its answer and time'
complete -c berth -n "__fish_berth_using_subcommand build" -s q -l quiet -d 'Show only errors and the result'
complete -c berth -n "__fish_berth_using_subcommand build" -l no-progress -d 'Print plain lines instead of progress bars, even on a terminal'
complete -c berth -n "__fish_berth_using_subcommand build" -s h -l help -d 'Print help'
complete -c berth -n "__fish_berth_using_subcommand push" -l push-via -d 'How images are pushed, for every image (default: each image\'s `push_via`, else `registry`)' -r -f -a "registry\t'berth\'s own push (parallel compression, layer cache, mounts)'
daemon\t'The Docker daemon\'s `docker push`'"
complete -c berth -n "__fish_berth_using_subcommand push" -s j -l jobs -d 'How many steps run at once, builds included (default: one build per CPU, and up to 16 steps in all, since pushes and deploys mostly wait on the network)' -r
complete -c berth -n "__fish_berth_using_subcommand push" -s f -l file -d 'Pipeline file to read' -r -F
complete -c berth -n "__fish_berth_using_subcommand push" -s e -l env -d 'Environment to apply (a key of the pipeline file\'s `environments`)' -r
complete -c berth -n "__fish_berth_using_subcommand push" -l region -d 'AWS region for every image and target, overriding the pipeline file' -r
complete -c berth -n "__fish_berth_using_subcommand push" -l profile -d 'AWS profile for every image and target, overriding the pipeline file' -r
complete -c berth -n "__fish_berth_using_subcommand push" -s o -l output -d 'Output format: `human` (progress on stderr, summary on stdout), `json` (one document at the end) or `ndjson` (one event per line, then the document)' -r -f -a "human\t''
json\t''
ndjson\t''"
complete -c berth -n "__fish_berth_using_subcommand push" -l color -d 'When to use colours (`auto` follows the terminal and NO_COLOR)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c berth -n "__fish_berth_using_subcommand push" -l no-cache -d 'Build without the Docker layer cache'
complete -c berth -n "__fish_berth_using_subcommand push" -l pull -d 'Always pull newer versions of base images'
complete -c berth -n "__fish_berth_using_subcommand push" -s v -l verbose -d 'Show more on stderr: `-v` every step\'s log (build output, changes, rollout events) also on a terminal; `-vv` also every AWS API request with its answer and time'
complete -c berth -n "__fish_berth_using_subcommand push" -s q -l quiet -d 'Show only errors and the result'
complete -c berth -n "__fish_berth_using_subcommand push" -l no-progress -d 'Print plain lines instead of progress bars, even on a terminal'
complete -c berth -n "__fish_berth_using_subcommand push" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c berth -n "__fish_berth_using_subcommand deploy" -l image -d 'Deploy this image reference for an image instead of the computed tag (repeatable), e.g. `--image web=123456789012.dkr.ecr.us-east-1.amazonaws.com/shop/web@sha256:…`' -r
complete -c berth -n "__fish_berth_using_subcommand deploy" -l wait-until -d 'Stop watching each ECS service deployment (BLUE_GREEN, LINEAR or CANARY strategy) once it reaches this lifecycle stage, e.g. TEST_TRAFFIC_SHIFT, and report it `paused` (overrides the targets\' `wait_until`)' -r
complete -c berth -n "__fish_berth_using_subcommand deploy" -s j -l jobs -d 'How many steps run at once, builds included (default: one build per CPU, and up to 16 steps in all, since pushes and deploys mostly wait on the network)' -r
complete -c berth -n "__fish_berth_using_subcommand deploy" -s f -l file -d 'Pipeline file to read' -r -F
complete -c berth -n "__fish_berth_using_subcommand deploy" -s e -l env -d 'Environment to apply (a key of the pipeline file\'s `environments`)' -r
complete -c berth -n "__fish_berth_using_subcommand deploy" -l region -d 'AWS region for every image and target, overriding the pipeline file' -r
complete -c berth -n "__fish_berth_using_subcommand deploy" -l profile -d 'AWS profile for every image and target, overriding the pipeline file' -r
complete -c berth -n "__fish_berth_using_subcommand deploy" -s o -l output -d 'Output format: `human` (progress on stderr, summary on stdout), `json` (one document at the end) or `ndjson` (one event per line, then the document)' -r -f -a "human\t''
json\t''
ndjson\t''"
complete -c berth -n "__fish_berth_using_subcommand deploy" -l color -d 'When to use colours (`auto` follows the terminal and NO_COLOR)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c berth -n "__fish_berth_using_subcommand deploy" -l continue -d 'Deploy nothing: follow the named targets\' service deployments (left running by `wait_until`) to their end, and report how they ended'
complete -c berth -n "__fish_berth_using_subcommand deploy" -l fail-fast -d 'Stop starting new steps after the first failure (running ones finish)'
complete -c berth -n "__fish_berth_using_subcommand deploy" -l no-wait-lock -d 'Fail at once when another berth run holds a target\'s lock, instead of waiting for it (for at most the target\'s timeout)'
complete -c berth -n "__fish_berth_using_subcommand deploy" -s v -l verbose -d 'Show more on stderr: `-v` every step\'s log (build output, changes, rollout events) also on a terminal; `-vv` also every AWS API request with its answer and time'
complete -c berth -n "__fish_berth_using_subcommand deploy" -s q -l quiet -d 'Show only errors and the result'
complete -c berth -n "__fish_berth_using_subcommand deploy" -l no-progress -d 'Print plain lines instead of progress bars, even on a terminal'
complete -c berth -n "__fish_berth_using_subcommand deploy" -s h -l help -d 'Print help'
complete -c berth -n "__fish_berth_using_subcommand ship" -l image -d 'Deploy this image reference for an image instead of building it (repeatable)' -r
complete -c berth -n "__fish_berth_using_subcommand ship" -l push-via -d 'How images are pushed, for every image (default: each image\'s `push_via`, else `registry`)' -r -f -a "registry\t'berth\'s own push (parallel compression, layer cache, mounts)'
daemon\t'The Docker daemon\'s `docker push`'"
complete -c berth -n "__fish_berth_using_subcommand ship" -s j -l jobs -d 'How many steps run at once, builds included (default: one build per CPU, and up to 16 steps in all, since pushes and deploys mostly wait on the network)' -r
complete -c berth -n "__fish_berth_using_subcommand ship" -s f -l file -d 'Pipeline file to read' -r -F
complete -c berth -n "__fish_berth_using_subcommand ship" -s e -l env -d 'Environment to apply (a key of the pipeline file\'s `environments`)' -r
complete -c berth -n "__fish_berth_using_subcommand ship" -l region -d 'AWS region for every image and target, overriding the pipeline file' -r
complete -c berth -n "__fish_berth_using_subcommand ship" -l profile -d 'AWS profile for every image and target, overriding the pipeline file' -r
complete -c berth -n "__fish_berth_using_subcommand ship" -s o -l output -d 'Output format: `human` (progress on stderr, summary on stdout), `json` (one document at the end) or `ndjson` (one event per line, then the document)' -r -f -a "human\t''
json\t''
ndjson\t''"
complete -c berth -n "__fish_berth_using_subcommand ship" -l color -d 'When to use colours (`auto` follows the terminal and NO_COLOR)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c berth -n "__fish_berth_using_subcommand ship" -l no-cache -d 'Build without the Docker layer cache'
complete -c berth -n "__fish_berth_using_subcommand ship" -l pull -d 'Always pull newer versions of base images'
complete -c berth -n "__fish_berth_using_subcommand ship" -l fail-fast -d 'Stop starting new steps after the first failure (running ones finish)'
complete -c berth -n "__fish_berth_using_subcommand ship" -l no-wait-lock -d 'Fail at once when another berth run holds a target\'s lock, instead of waiting for it (for at most the target\'s timeout)'
complete -c berth -n "__fish_berth_using_subcommand ship" -s v -l verbose -d 'Show more on stderr: `-v` every step\'s log (build output, changes, rollout events) also on a terminal; `-vv` also every AWS API request with its answer and time'
complete -c berth -n "__fish_berth_using_subcommand ship" -s q -l quiet -d 'Show only errors and the result'
complete -c berth -n "__fish_berth_using_subcommand ship" -l no-progress -d 'Print plain lines instead of progress bars, even on a terminal'
complete -c berth -n "__fish_berth_using_subcommand ship" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c berth -n "__fish_berth_using_subcommand rollback" -s f -l file -d 'Pipeline file to read' -r -F
complete -c berth -n "__fish_berth_using_subcommand rollback" -s e -l env -d 'Environment to apply (a key of the pipeline file\'s `environments`)' -r
complete -c berth -n "__fish_berth_using_subcommand rollback" -l region -d 'AWS region for every image and target, overriding the pipeline file' -r
complete -c berth -n "__fish_berth_using_subcommand rollback" -l profile -d 'AWS profile for every image and target, overriding the pipeline file' -r
complete -c berth -n "__fish_berth_using_subcommand rollback" -s o -l output -d 'Output format: `human` (progress on stderr, summary on stdout), `json` (one document at the end) or `ndjson` (one event per line, then the document)' -r -f -a "human\t''
json\t''
ndjson\t''"
complete -c berth -n "__fish_berth_using_subcommand rollback" -l color -d 'When to use colours (`auto` follows the terminal and NO_COLOR)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c berth -n "__fish_berth_using_subcommand rollback" -l no-wait-lock -d 'Fail at once when another berth run holds a target\'s lock, instead of waiting for it (for at most the target\'s timeout)'
complete -c berth -n "__fish_berth_using_subcommand rollback" -s v -l verbose -d 'Show more on stderr: `-v` every step\'s log (build output, changes, rollout events) also on a terminal; `-vv` also every AWS API request with its answer and time'
complete -c berth -n "__fish_berth_using_subcommand rollback" -s q -l quiet -d 'Show only errors and the result'
complete -c berth -n "__fish_berth_using_subcommand rollback" -l no-progress -d 'Print plain lines instead of progress bars, even on a terminal'
complete -c berth -n "__fish_berth_using_subcommand rollback" -s h -l help -d 'Print help'
complete -c berth -n "__fish_berth_using_subcommand status" -s f -l file -d 'Pipeline file to read' -r -F
complete -c berth -n "__fish_berth_using_subcommand status" -s e -l env -d 'Environment to apply (a key of the pipeline file\'s `environments`)' -r
complete -c berth -n "__fish_berth_using_subcommand status" -l region -d 'AWS region for every image and target, overriding the pipeline file' -r
complete -c berth -n "__fish_berth_using_subcommand status" -l profile -d 'AWS profile for every image and target, overriding the pipeline file' -r
complete -c berth -n "__fish_berth_using_subcommand status" -s o -l output -d 'Output format: `human` (progress on stderr, summary on stdout), `json` (one document at the end) or `ndjson` (one event per line, then the document)' -r -f -a "human\t''
json\t''
ndjson\t''"
complete -c berth -n "__fish_berth_using_subcommand status" -l color -d 'When to use colours (`auto` follows the terminal and NO_COLOR)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c berth -n "__fish_berth_using_subcommand status" -s v -l verbose -d 'Show more on stderr: `-v` every step\'s log (build output, changes, rollout events) also on a terminal; `-vv` also every AWS API request with its answer and time'
complete -c berth -n "__fish_berth_using_subcommand status" -s q -l quiet -d 'Show only errors and the result'
complete -c berth -n "__fish_berth_using_subcommand status" -l no-progress -d 'Print plain lines instead of progress bars, even on a terminal'
complete -c berth -n "__fish_berth_using_subcommand status" -s h -l help -d 'Print help'
complete -c berth -n "__fish_berth_using_subcommand logs" -s n -l lines -d 'How many of the last lines of each container to show' -r
complete -c berth -n "__fish_berth_using_subcommand logs" -s f -l file -d 'Pipeline file to read' -r -F
complete -c berth -n "__fish_berth_using_subcommand logs" -s e -l env -d 'Environment to apply (a key of the pipeline file\'s `environments`)' -r
complete -c berth -n "__fish_berth_using_subcommand logs" -l region -d 'AWS region for every image and target, overriding the pipeline file' -r
complete -c berth -n "__fish_berth_using_subcommand logs" -l profile -d 'AWS profile for every image and target, overriding the pipeline file' -r
complete -c berth -n "__fish_berth_using_subcommand logs" -s o -l output -d 'Output format: `human` (progress on stderr, summary on stdout), `json` (one document at the end) or `ndjson` (one event per line, then the document)' -r -f -a "human\t''
json\t''
ndjson\t''"
complete -c berth -n "__fish_berth_using_subcommand logs" -l color -d 'When to use colours (`auto` follows the terminal and NO_COLOR)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c berth -n "__fish_berth_using_subcommand logs" -l follow -d 'Keep showing new lines as they are logged, until interrupted (Ctrl-C)'
complete -c berth -n "__fish_berth_using_subcommand logs" -s v -l verbose -d 'Show more on stderr: `-v` every step\'s log (build output, changes, rollout events) also on a terminal; `-vv` also every AWS API request with its answer and time'
complete -c berth -n "__fish_berth_using_subcommand logs" -s q -l quiet -d 'Show only errors and the result'
complete -c berth -n "__fish_berth_using_subcommand logs" -l no-progress -d 'Print plain lines instead of progress bars, even on a terminal'
complete -c berth -n "__fish_berth_using_subcommand logs" -s h -l help -d 'Print help'
complete -c berth -n "__fish_berth_using_subcommand gc" -l keep-newest -d 'Keep the newest N images of each tag group' -r
complete -c berth -n "__fish_berth_using_subcommand gc" -l group-by -d 'Group tags by this regular expression\'s first capture group, e.g. `^(.+)-[0-9a-f]{7}$` for one group per branch of `BRANCH-SHA` tags; tags it does not match form one group. Default: one group' -r
complete -c berth -n "__fish_berth_using_subcommand gc" -l keep-younger-than -d 'Keep images pushed less than this long ago (`0s`: none are kept for their age)' -r
complete -c berth -n "__fish_berth_using_subcommand gc" -l keep-revisions -d 'How many replaced ECS task definition revisions count as rollback points (and how many of a family\'s newest revisions are kept)' -r
complete -c berth -n "__fish_berth_using_subcommand gc" -s f -l file -d 'Pipeline file to read' -r -F
complete -c berth -n "__fish_berth_using_subcommand gc" -s e -l env -d 'Environment to apply (a key of the pipeline file\'s `environments`)' -r
complete -c berth -n "__fish_berth_using_subcommand gc" -l region -d 'AWS region for every image and target, overriding the pipeline file' -r
complete -c berth -n "__fish_berth_using_subcommand gc" -l profile -d 'AWS profile for every image and target, overriding the pipeline file' -r
complete -c berth -n "__fish_berth_using_subcommand gc" -s o -l output -d 'Output format: `human` (progress on stderr, summary on stdout), `json` (one document at the end) or `ndjson` (one event per line, then the document)' -r -f -a "human\t''
json\t''
ndjson\t''"
complete -c berth -n "__fish_berth_using_subcommand gc" -l color -d 'When to use colours (`auto` follows the terminal and NO_COLOR)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c berth -n "__fish_berth_using_subcommand gc" -l delete -d 'Delete the deletable images (without it, gc only lists them)'
complete -c berth -n "__fish_berth_using_subcommand gc" -s v -l verbose -d 'Show more on stderr: `-v` every step\'s log (build output, changes, rollout events) also on a terminal; `-vv` also every AWS API request with its answer and time'
complete -c berth -n "__fish_berth_using_subcommand gc" -s q -l quiet -d 'Show only errors and the result'
complete -c berth -n "__fish_berth_using_subcommand gc" -l no-progress -d 'Print plain lines instead of progress bars, even on a terminal'
complete -c berth -n "__fish_berth_using_subcommand gc" -s h -l help -d 'Print help'
complete -c berth -n "__fish_berth_using_subcommand iam-policy" -s f -l file -d 'Pipeline file to read' -r -F
complete -c berth -n "__fish_berth_using_subcommand iam-policy" -s e -l env -d 'Environment to apply (a key of the pipeline file\'s `environments`)' -r
complete -c berth -n "__fish_berth_using_subcommand iam-policy" -l region -d 'AWS region for every image and target, overriding the pipeline file' -r
complete -c berth -n "__fish_berth_using_subcommand iam-policy" -l profile -d 'AWS profile for every image and target, overriding the pipeline file' -r
complete -c berth -n "__fish_berth_using_subcommand iam-policy" -s o -l output -d 'Output format: `human` (progress on stderr, summary on stdout), `json` (one document at the end) or `ndjson` (one event per line, then the document)' -r -f -a "human\t''
json\t''
ndjson\t''"
complete -c berth -n "__fish_berth_using_subcommand iam-policy" -l color -d 'When to use colours (`auto` follows the terminal and NO_COLOR)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c berth -n "__fish_berth_using_subcommand iam-policy" -l gc -d 'Also allow what `berth gc --delete` calls (ecr:BatchDeleteImage, the task definition history of ECS targets)'
complete -c berth -n "__fish_berth_using_subcommand iam-policy" -s v -l verbose -d 'Show more on stderr: `-v` every step\'s log (build output, changes, rollout events) also on a terminal; `-vv` also every AWS API request with its answer and time'
complete -c berth -n "__fish_berth_using_subcommand iam-policy" -s q -l quiet -d 'Show only errors and the result'
complete -c berth -n "__fish_berth_using_subcommand iam-policy" -l no-progress -d 'Print plain lines instead of progress bars, even on a terminal'
complete -c berth -n "__fish_berth_using_subcommand iam-policy" -s h -l help -d 'Print help'
complete -c berth -n "__fish_berth_using_subcommand login" -s f -l file -d 'Pipeline file to read' -r -F
complete -c berth -n "__fish_berth_using_subcommand login" -s e -l env -d 'Environment to apply (a key of the pipeline file\'s `environments`)' -r
complete -c berth -n "__fish_berth_using_subcommand login" -l region -d 'AWS region for every image and target, overriding the pipeline file' -r
complete -c berth -n "__fish_berth_using_subcommand login" -l profile -d 'AWS profile for every image and target, overriding the pipeline file' -r
complete -c berth -n "__fish_berth_using_subcommand login" -s o -l output -d 'Output format: `human` (progress on stderr, summary on stdout), `json` (one document at the end) or `ndjson` (one event per line, then the document)' -r -f -a "human\t''
json\t''
ndjson\t''"
complete -c berth -n "__fish_berth_using_subcommand login" -l color -d 'When to use colours (`auto` follows the terminal and NO_COLOR)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c berth -n "__fish_berth_using_subcommand login" -l print-password -d 'Print the registry password to stdout instead of logging the daemon in (like `aws ecr get-login-password`)'
complete -c berth -n "__fish_berth_using_subcommand login" -s v -l verbose -d 'Show more on stderr: `-v` every step\'s log (build output, changes, rollout events) also on a terminal; `-vv` also every AWS API request with its answer and time'
complete -c berth -n "__fish_berth_using_subcommand login" -s q -l quiet -d 'Show only errors and the result'
complete -c berth -n "__fish_berth_using_subcommand login" -l no-progress -d 'Print plain lines instead of progress bars, even on a terminal'
complete -c berth -n "__fish_berth_using_subcommand login" -s h -l help -d 'Print help'
complete -c berth -n "__fish_berth_using_subcommand eks-token" -s f -l file -d 'Pipeline file to read' -r -F
complete -c berth -n "__fish_berth_using_subcommand eks-token" -s e -l env -d 'Environment to apply (a key of the pipeline file\'s `environments`)' -r
complete -c berth -n "__fish_berth_using_subcommand eks-token" -l region -d 'AWS region for every image and target, overriding the pipeline file' -r
complete -c berth -n "__fish_berth_using_subcommand eks-token" -l profile -d 'AWS profile for every image and target, overriding the pipeline file' -r
complete -c berth -n "__fish_berth_using_subcommand eks-token" -s o -l output -d 'Output format: `human` (progress on stderr, summary on stdout), `json` (one document at the end) or `ndjson` (one event per line, then the document)' -r -f -a "human\t''
json\t''
ndjson\t''"
complete -c berth -n "__fish_berth_using_subcommand eks-token" -l color -d 'When to use colours (`auto` follows the terminal and NO_COLOR)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c berth -n "__fish_berth_using_subcommand eks-token" -l kubeconfig -d 'Print a kubeconfig for the cluster (endpoint and CA from DescribeCluster, berth as the exec plugin) instead of a token'
complete -c berth -n "__fish_berth_using_subcommand eks-token" -s v -l verbose -d 'Show more on stderr: `-v` every step\'s log (build output, changes, rollout events) also on a terminal; `-vv` also every AWS API request with its answer and time'
complete -c berth -n "__fish_berth_using_subcommand eks-token" -s q -l quiet -d 'Show only errors and the result'
complete -c berth -n "__fish_berth_using_subcommand eks-token" -l no-progress -d 'Print plain lines instead of progress bars, even on a terminal'
complete -c berth -n "__fish_berth_using_subcommand eks-token" -s h -l help -d 'Print help'
complete -c berth -n "__fish_berth_using_subcommand doctor" -s f -l file -d 'Pipeline file to read' -r -F
complete -c berth -n "__fish_berth_using_subcommand doctor" -s e -l env -d 'Environment to apply (a key of the pipeline file\'s `environments`)' -r
complete -c berth -n "__fish_berth_using_subcommand doctor" -l region -d 'AWS region for every image and target, overriding the pipeline file' -r
complete -c berth -n "__fish_berth_using_subcommand doctor" -l profile -d 'AWS profile for every image and target, overriding the pipeline file' -r
complete -c berth -n "__fish_berth_using_subcommand doctor" -s o -l output -d 'Output format: `human` (progress on stderr, summary on stdout), `json` (one document at the end) or `ndjson` (one event per line, then the document)' -r -f -a "human\t''
json\t''
ndjson\t''"
complete -c berth -n "__fish_berth_using_subcommand doctor" -l color -d 'When to use colours (`auto` follows the terminal and NO_COLOR)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c berth -n "__fish_berth_using_subcommand doctor" -s v -l verbose -d 'Show more on stderr: `-v` every step\'s log (build output, changes, rollout events) also on a terminal; `-vv` also every AWS API request with its answer and time'
complete -c berth -n "__fish_berth_using_subcommand doctor" -s q -l quiet -d 'Show only errors and the result'
complete -c berth -n "__fish_berth_using_subcommand doctor" -l no-progress -d 'Print plain lines instead of progress bars, even on a terminal'
complete -c berth -n "__fish_berth_using_subcommand doctor" -s h -l help -d 'Print help'
complete -c berth -n "__fish_berth_using_subcommand completions" -s f -l file -d 'Pipeline file to read' -r -F
complete -c berth -n "__fish_berth_using_subcommand completions" -s e -l env -d 'Environment to apply (a key of the pipeline file\'s `environments`)' -r
complete -c berth -n "__fish_berth_using_subcommand completions" -l region -d 'AWS region for every image and target, overriding the pipeline file' -r
complete -c berth -n "__fish_berth_using_subcommand completions" -l profile -d 'AWS profile for every image and target, overriding the pipeline file' -r
complete -c berth -n "__fish_berth_using_subcommand completions" -s o -l output -d 'Output format: `human` (progress on stderr, summary on stdout), `json` (one document at the end) or `ndjson` (one event per line, then the document)' -r -f -a "human\t''
json\t''
ndjson\t''"
complete -c berth -n "__fish_berth_using_subcommand completions" -l color -d 'When to use colours (`auto` follows the terminal and NO_COLOR)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c berth -n "__fish_berth_using_subcommand completions" -s v -l verbose -d 'Show more on stderr: `-v` every step\'s log (build output, changes, rollout events) also on a terminal; `-vv` also every AWS API request with its answer and time'
complete -c berth -n "__fish_berth_using_subcommand completions" -s q -l quiet -d 'Show only errors and the result'
complete -c berth -n "__fish_berth_using_subcommand completions" -l no-progress -d 'Print plain lines instead of progress bars, even on a terminal'
complete -c berth -n "__fish_berth_using_subcommand completions" -s h -l help -d 'Print help'
complete -c berth -n "__fish_berth_using_subcommand generate-docs" -s f -l file -d 'Pipeline file to read' -r -F
complete -c berth -n "__fish_berth_using_subcommand generate-docs" -s e -l env -d 'Environment to apply (a key of the pipeline file\'s `environments`)' -r
complete -c berth -n "__fish_berth_using_subcommand generate-docs" -l region -d 'AWS region for every image and target, overriding the pipeline file' -r
complete -c berth -n "__fish_berth_using_subcommand generate-docs" -l profile -d 'AWS profile for every image and target, overriding the pipeline file' -r
complete -c berth -n "__fish_berth_using_subcommand generate-docs" -s o -l output -d 'Output format: `human` (progress on stderr, summary on stdout), `json` (one document at the end) or `ndjson` (one event per line, then the document)' -r -f -a "human\t''
json\t''
ndjson\t''"
complete -c berth -n "__fish_berth_using_subcommand generate-docs" -l color -d 'When to use colours (`auto` follows the terminal and NO_COLOR)' -r -f -a "auto\t''
always\t''
never\t''"
complete -c berth -n "__fish_berth_using_subcommand generate-docs" -l check -d 'Do not write; exit 1 when a generated file differs from what is on disk'
complete -c berth -n "__fish_berth_using_subcommand generate-docs" -s v -l verbose -d 'Show more on stderr: `-v` every step\'s log (build output, changes, rollout events) also on a terminal; `-vv` also every AWS API request with its answer and time'
complete -c berth -n "__fish_berth_using_subcommand generate-docs" -s q -l quiet -d 'Show only errors and the result'
complete -c berth -n "__fish_berth_using_subcommand generate-docs" -l no-progress -d 'Print plain lines instead of progress bars, even on a terminal'
complete -c berth -n "__fish_berth_using_subcommand generate-docs" -s h -l help -d 'Print help'
complete -c berth -n "__fish_berth_using_subcommand help; and not __fish_seen_subcommand_from validate plan build push deploy ship rollback status logs gc iam-policy login eks-token doctor completions generate-docs help" -f -a "validate" -d 'Check the pipeline file and the files it references. Changes nothing; needs no AWS or Docker'
complete -c berth -n "__fish_berth_using_subcommand help; and not __fish_seen_subcommand_from validate plan build push deploy ship rollback status logs gc iam-policy login eks-token doctor completions generate-docs help" -f -a "plan" -d 'Show what `ship` would do: images to build and their tags, and per target the change (read-only calls to AWS). Changes nothing'
complete -c berth -n "__fish_berth_using_subcommand help; and not __fish_seen_subcommand_from validate plan build push deploy ship rollback status logs gc iam-policy login eks-token doctor completions generate-docs help" -f -a "build" -d 'Build images through the Docker daemon'
complete -c berth -n "__fish_berth_using_subcommand help; and not __fish_seen_subcommand_from validate plan build push deploy ship rollback status logs gc iam-policy login eks-token doctor completions generate-docs help" -f -a "push" -d 'Build images if needed, then push them to ECR (creating and configuring repositories)'
complete -c berth -n "__fish_berth_using_subcommand help; and not __fish_seen_subcommand_from validate plan build push deploy ship rollback status logs gc iam-policy login eks-token doctor completions generate-docs help" -f -a "deploy" -d 'Deploy images already in ECR (default: the tags the pipeline computes now)'
complete -c berth -n "__fish_berth_using_subcommand help; and not __fish_seen_subcommand_from validate plan build push deploy ship rollback status logs gc iam-policy login eks-token doctor completions generate-docs help" -f -a "ship" -d 'Build and push what the selected targets need, then deploy them in dependency order, in parallel where independent'
complete -c berth -n "__fish_berth_using_subcommand help; and not __fish_seen_subcommand_from validate plan build push deploy ship rollback status logs gc iam-policy login eks-token doctor completions generate-docs help" -f -a "rollback" -d 'Put a target back to the state recorded before berth\'s last deploy of it'
complete -c berth -n "__fish_berth_using_subcommand help; and not __fish_seen_subcommand_from validate plan build push deploy ship rollback status logs gc iam-policy login eks-token doctor completions generate-docs help" -f -a "status" -d 'Show what each target runs now: image refs, revision, rollout state'
complete -c berth -n "__fish_berth_using_subcommand help; and not __fish_seen_subcommand_from validate plan build push deploy ship rollback status logs gc iam-policy login eks-token doctor completions generate-docs help" -f -a "logs" -d 'Show the last log lines of the containers a target runs now (its current revision\'s ECS tasks, from CloudWatch Logs, or its pods), and follow them with `--follow`'
complete -c berth -n "__fish_berth_using_subcommand help; and not __fish_seen_subcommand_from validate plan build push deploy ship rollback status logs gc iam-policy login eks-token doctor completions generate-docs help" -f -a "gc" -d 'Clean up the pipeline\'s ECR repositories: keep every image a target runs, is rolling out or could roll back to (in every environment, account and region the pipeline deploys to), the newest of each tag group and the young ones; list the rest, or delete them with `--delete`'
complete -c berth -n "__fish_berth_using_subcommand help; and not __fish_seen_subcommand_from validate plan build push deploy ship rollback status logs gc iam-policy login eks-token doctor completions generate-docs help" -f -a "iam-policy" -d 'Print the least-privilege IAM policy for this pipeline: one document per account or role, with exactly the actions berth calls and resources scoped to what the pipeline names, and the Kubernetes RBAC Role each EKS target needs'
complete -c berth -n "__fish_berth_using_subcommand help; and not __fish_seen_subcommand_from validate plan build push deploy ship rollback status logs gc iam-policy login eks-token doctor completions generate-docs help" -f -a "login" -d 'Log the Docker daemon in to the pipeline\'s ECR registries'
complete -c berth -n "__fish_berth_using_subcommand help; and not __fish_seen_subcommand_from validate plan build push deploy ship rollback status logs gc iam-policy login eks-token doctor completions generate-docs help" -f -a "eks-token" -d 'Print a bearer token for an EKS cluster (as `aws eks get-token` does), or a kubeconfig that gets its tokens from berth: kubectl then needs no aws CLI'
complete -c berth -n "__fish_berth_using_subcommand help; and not __fish_seen_subcommand_from validate plan build push deploy ship rollback status logs gc iam-policy login eks-token doctor completions generate-docs help" -f -a "doctor" -d 'Check what a CI job needs: the pipeline file, the Docker daemon, AWS credentials, identity and region, each AWS service the pipeline uses, and Kubernetes access for EKS targets; each failed check with a fix. Read-only. Exit 1 when a check failed'
complete -c berth -n "__fish_berth_using_subcommand help; and not __fish_seen_subcommand_from validate plan build push deploy ship rollback status logs gc iam-policy login eks-token doctor completions generate-docs help" -f -a "completions" -d 'Print a shell completion script'
complete -c berth -n "__fish_berth_using_subcommand help; and not __fish_seen_subcommand_from validate plan build push deploy ship rollback status logs gc iam-policy login eks-token doctor completions generate-docs help" -f -a "generate-docs" -d 'Write the generated files: completions, man page, CLI reference, JSON Schema'
complete -c berth -n "__fish_berth_using_subcommand help; and not __fish_seen_subcommand_from validate plan build push deploy ship rollback status logs gc iam-policy login eks-token doctor completions generate-docs help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
