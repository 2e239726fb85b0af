"""CloudFormation change sets that behave like CloudFormation's, for the rig.

moto 5 answers change sets, but: a change to a parameter shows no change to the resources
that use it, nothing is ever a replacement, a change set with no resource changes is still
executable, a stack never fails, and stack events carry no ClientRequestToken. This module
patches moto's CloudFormation backend in the emulator's process:

* Change sets compare each resource's properties with parameters substituted (Ref, Fn::Sub
  and Fn::Join of them), before and after: Add, Modify or Remove, with `Replacement: True`
  when a property whose name ends in `Name` changes (names cannot change in place for most
  resource types). An update with no resource change comes back FAILED with
  "The submitted information didn't contain changes. …", as CloudFormation does.
* A resource with `Metadata: {BerthRigFail: "<reason>"}` fails when the change set runs: the
  stack goes to ROLLBACK_COMPLETE (on create) or UPDATE_ROLLBACK_COMPLETE (on update), with
  the events CloudFormation would write — the first failure with its reason, then the cascade
  ("Resource creation cancelled"), then the rollback — and keeps its previous template.
* A failing resource of type `AWS::CloudFormation::Stack` with
  `Metadata: {BerthRigNested: {Resource: <logical id>, Type: <type>, Reason: <reason>}}` is a
  nested stack that failed inside, as in AWS: a nested stack of its own is created (and
  deleted by the rollback, its events still readable by id) whose events show that resource
  failing with that reason, and the parent's failure is "Embedded stack <arn> was not
  successfully created: The following resource(s) failed to create: [<logical id>]." with the
  nested stack's id as the physical id.
* Every event an ExecuteChangeSet writes carries that call's ClientRequestToken.
* Change set names are looked up within the request's stack (moto looks them up across all
  stacks, so two stacks' change sets of the same name would meet), and ListChangeSets lists
  that stack's only. A change set that is not there is `ChangeSetNotFound` ("ChangeSet [x]
  does not exist"), as CloudFormation says, not moto's "Stack with id x does not exist".
* A CREATE change set for a stack in REVIEW_IN_PROGRESS reuses it, as in AWS.
* Executing a change set deletes the stack's change sets, as CloudFormation does.
* A resource with `Metadata: {BerthRigSlow: <seconds>}` makes its change set's execution take
  that long: the stack is CREATE_/UPDATE_IN_PROGRESS until then (moto's finish at once).
* After a change set runs, the stack's outputs and parameters are the new ones (moto keeps
  the old outputs).
* An SSM parameter resource without a `Name` gets a generated one, as in AWS (moto's change
  set fails with a 500 and leaves the stack half-updated).
"""

import json
import threading

import yaml
from moto.cloudformation import models as cfn
from moto.cloudformation.exceptions import CloudFormationError
from moto.cloudformation.utils import yaml_tag_constructor

request = threading.local()
lock = threading.RLock()


class ChangeSetNotFound(CloudFormationError):
    code = "ChangeSetNotFound"

    def __init__(self, name):
        super().__init__(f"ChangeSet [{name}] does not exist")


def find(backend, name):
    """The key of a change set given by ARN, or by name within the request's stack (change
    set names are per stack in AWS; moto looks them up across all stacks)."""
    if name in backend.change_sets:
        return name
    stack = getattr(request, "stack", None)
    for key, cs in backend.change_sets.items():
        if cs.change_set_name == name and (not stack or stack in (cs.stack_name, cs.stack_id)):
            return key
    raise ChangeSetNotFound(name)


def patched_list(self):
    stack = getattr(request, "stack", None)
    with lock:
        return [cs for cs in self.change_sets.values() if not stack or stack in (cs.stack_name, cs.stack_id)]


def patched_describe(self, change_set_name):
    with lock:
        return self.change_sets[find(self, change_set_name)]


def patched_delete(self, change_set_name):
    with lock:
        del self.change_sets[find(self, change_set_name)]


def parse(template):
    if isinstance(template, dict):
        return template
    if not template:
        return {}
    yaml.add_multi_constructor("", yaml_tag_constructor)
    try:
        return yaml.load(template, Loader=yaml.Loader) or {}
    except Exception:
        return json.loads(template)


NAMED_IAM = {
    "AWS::IAM::Role": "RoleName",
    "AWS::IAM::ManagedPolicy": "ManagedPolicyName",
    "AWS::IAM::User": "UserName",
    "AWS::IAM::Group": "GroupName",
    "AWS::IAM::InstanceProfile": "InstanceProfileName",
}


def capabilities_needed(template):
    """The capability CloudFormation requires for a template: CAPABILITY_NAMED_IAM for an IAM
    resource with an explicit name, CAPABILITY_IAM for other IAM resources, else None."""
    try:
        doc = parse(template)
    except Exception:
        return None
    needed = None
    for r in ((doc or {}).get("Resources") or {}).values():
        t = (r or {}).get("Type", "")
        if not t.startswith("AWS::IAM::"):
            continue
        if NAMED_IAM.get(t) in ((r or {}).get("Properties") or {}):
            return "CAPABILITY_NAMED_IAM"
        needed = "CAPABILITY_IAM"
    return needed


def resolve(value, params):
    """Substitutes parameters into a property value (enough to see what a change touches)."""
    if isinstance(value, dict):
        if set(value) == {"Ref"} and value["Ref"] in params:
            return params[value["Ref"]]
        if set(value) == {"Fn::Sub"} and isinstance(value["Fn::Sub"], str):
            s = value["Fn::Sub"]
            for k, v in params.items():
                s = s.replace("${" + k + "}", str(v))
            return {"Fn::Sub": s}
        return {k: resolve(v, params) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, params) for v in value]
    return value


def params_of(stack):
    p = getattr(stack, "stack_parameters", None) or getattr(stack, "parameters", None) or {}
    return dict(p)


def diff(old_template, old_params, new_template, new_params):
    old = parse(old_template).get("Resources", {}) or {}
    new = parse(new_template).get("Resources", {}) or {}
    changes = []
    for name, res in new.items():
        if name not in old:
            changes.append(("Add", name, res.get("Type"), None))
            continue
        before = resolve(old[name].get("Properties", {}), old_params)
        after = resolve(res.get("Properties", {}), new_params)
        if before != after or old[name].get("Type") != res.get("Type"):
            keys = {k for k in set(before) | set(after) if before.get(k) != after.get(k)}
            replace = "True" if any(k.endswith("Name") for k in keys) or old[name].get("Type") != res.get("Type") else "False"
            changes.append(("Modify", name, res.get("Type"), replace))
    for name, res in old.items():
        if name not in new:
            changes.append(("Remove", name, res.get("Type"), None))
    return changes


def patched_diff(self):
    stack = self.stack
    old_template = stack.template if self.change_set_type == "UPDATE" else {}
    out = []
    for action, name, rtype, replacement in diff(old_template, params_of(stack), self.template_dict, self.parameters or {}):
        c = cfn.Change(action=action, logical_resource_id=name, resource_type=rtype)
        if replacement is not None:
            c.replacement = replacement
        physical = stack.resource_map._parsed_resources.get(name) if action != "Add" else None
        if physical is not None and hasattr(physical, "physical_resource_id"):
            c.physical_resource_id = physical.physical_resource_id
        out.append(c)
    return out


original_create = cfn.CloudFormationBackend.create_change_set
original_execute = cfn.CloudFormationBackend.execute_change_set


def patched_create(self, stack_name, change_set_name, template, parameters, description, change_set_type, *args, **kwargs):
    with lock:
        return locked_create(self, stack_name, change_set_name, template, parameters, description, change_set_type, *args, **kwargs)


def locked_create(self, stack_name, change_set_name, template, parameters, description, change_set_type, *args, **kwargs):
    # A CREATE change set for a stack in REVIEW_IN_PROGRESS (one whose first change set was
    # deleted, e.g. by a plan) uses that stack, as in AWS; moto would make a second stack of
    # the same name.
    if change_set_type == "CREATE":
        for sid, st in list(self.stacks.items()):
            if st.name == stack_name and st.status == "REVIEW_IN_PROGRESS":
                del self.stacks[sid]
    change_set_id, stack_id = original_create(self, stack_name, change_set_name, template, parameters, description, change_set_type, *args, **kwargs)
    cs = self.change_sets[change_set_id]
    if cs.change_set_type == "UPDATE" and not cs.changes:
        cs.status = "FAILED"
        cs.execution_status = "UNAVAILABLE"
        cs.status_reason = "The submitted information didn't contain changes. Submit different information to create a change set."
    return change_set_id, stack_id


def event(stack, logical, rtype, status, reason=None, physical=None):
    e = cfn.Event(
        stack_id=stack.stack_id,
        stack_name=stack.name,
        logical_resource_id=logical,
        physical_resource_id=physical or "",
        resource_type=rtype,
        resource_status=status,
        resource_status_reason=reason,
        resource_properties=None,
    )
    stack.events.append(e)


def patched_execute(self, change_set_name, stack_name=None):
    with lock:
        return locked_execute(self, change_set_name, stack_name)


def slowness(cs):
    """The longest `Metadata: {BerthRigSlow: seconds}` of the change set's resources."""
    longest = 0.0
    for res in (cs.template_dict.get("Resources") or {}).values():
        try:
            longest = max(longest, float(((res or {}).get("Metadata") or {}).get("BerthRigSlow") or 0))
        except (TypeError, ValueError):
            pass
    return longest


def locked_execute(self, change_set_name, stack_name=None, delayed=False):
    change_set_name = find(self, change_set_name)
    cs = self.change_sets.get(change_set_name)
    stack = self.stacks[cs.stack_id] if cs is not None else None
    token = getattr(request, "token", None)
    slow = slowness(cs) if cs is not None and not delayed else 0
    if slow > 0 and stack is not None:
        # The operation takes its time, as CloudFormation's do: the stack is in progress
        # until it ends, `slow` seconds from now.
        verb = "CREATE" if cs.change_set_type == "CREATE" else "UPDATE"
        first = len(stack.events)
        event(stack, stack.name, "AWS::CloudFormation::Stack", f"{verb}_IN_PROGRESS", "User Initiated", stack.stack_id)
        if token:
            for e in stack.events[first:]:
                e.client_request_token = token
        stack.status = f"{verb}_IN_PROGRESS"

        def finish():
            with lock:
                request.token = token
                locked_execute(self, change_set_name, stack_name, delayed=True)

        threading.Timer(slow, finish).start()
        return
    first_new = len(stack.events) if stack is not None else 0
    failing = None
    if cs is not None:
        for name, res in (cs.template_dict.get("Resources") or {}).items():
            reason = ((res or {}).get("Metadata") or {}).get("BerthRigFail")
            if reason:
                failing = (name, res.get("Type"), reason)
                break
    if cs is None or failing is None:
        original_execute(self, change_set_name, stack_name)
        if stack is not None:
            # moto swaps the template text but keeps the old outputs and parameters.
            stack._parse_template()
            stack.output_map = stack._create_output_map()
            if cs is not None and cs.parameters:
                stack.parameters = dict(cs.parameters)
    else:
        create = cs.change_set_type == "CREATE"
        verb = "CREATE" if create else "UPDATE"
        stack_type = "AWS::CloudFormation::Stack"
        event(stack, stack.name, stack_type, f"{verb}_IN_PROGRESS", "User Initiated", stack.stack_id)
        name, rtype, reason = failing
        physical = None
        inner = (cs.template_dict["Resources"][name].get("Metadata") or {}).get("BerthRigNested")
        if rtype == stack_type and inner:
            physical, reason = nested_failure(self, stack, name, inner)
        others = [(n, r.get("Type")) for n, r in cs.template_dict["Resources"].items() if n != name]
        for n, t in others:
            event(stack, n, t, "CREATE_IN_PROGRESS")
        event(stack, name, rtype, "CREATE_IN_PROGRESS", None, physical)
        event(stack, name, rtype, "CREATE_FAILED", reason, physical)
        for n, t in others:
            event(stack, n, t, "CREATE_FAILED", "Resource creation cancelled")
        if create:
            event(stack, stack.name, stack_type, "ROLLBACK_IN_PROGRESS", f"The following resource(s) failed to create: [{name}]. Rollback requested by user.", stack.stack_id)
            for n, t in others + [(name, rtype)]:
                event(stack, n, t, "DELETE_COMPLETE")
            event(stack, stack.name, stack_type, "ROLLBACK_COMPLETE", None, stack.stack_id)
            stack.status = "ROLLBACK_COMPLETE"
        else:
            event(stack, stack.name, stack_type, "UPDATE_ROLLBACK_IN_PROGRESS", f"The following resource(s) failed to update: [{name}].", stack.stack_id)
            event(stack, stack.name, stack_type, "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS", None, stack.stack_id)
            event(stack, stack.name, stack_type, "UPDATE_ROLLBACK_COMPLETE", None, stack.stack_id)
            stack.status = "UPDATE_ROLLBACK_COMPLETE"
        cs.execution_status = "EXECUTE_FAILED"
    if stack is not None and token:
        for e in stack.events[first_new:]:
            e.client_request_token = token
    # CloudFormation deletes a stack's change sets once one of them is executed.
    if stack is not None:
        for k in [k for k, c in self.change_sets.items() if c.stack_id == stack.stack_id]:
            del self.change_sets[k]


def nested_failure(backend, parent, logical, inner):
    """A nested stack whose resource `inner` failed: its id, and the parent's reason."""
    import uuid as _uuid

    name = f"{parent.name}-{logical}-{_uuid.uuid4().hex[:12].upper()}"
    template = json.dumps({"Resources": {inner["Resource"]: {"Type": inner["Type"]}}})
    nested = backend.create_stack(name=name, template=json.dumps({"Resources": {}}), parameters={})
    backend.delete_stack(nested.stack_id)
    nested.events = []
    nested.template = template
    t = "AWS::CloudFormation::Stack"
    event(nested, nested.name, t, "CREATE_IN_PROGRESS", "User Initiated", nested.stack_id)
    event(nested, inner["Resource"], inner["Type"], "CREATE_IN_PROGRESS")
    event(nested, inner["Resource"], inner["Type"], "CREATE_FAILED", inner["Reason"])
    event(nested, nested.name, t, "CREATE_FAILED", f"The following resource(s) failed to create: [{inner['Resource']}]. ", nested.stack_id)
    event(nested, nested.name, t, "DELETE_IN_PROGRESS", None, nested.stack_id)
    event(nested, inner["Resource"], inner["Type"], "DELETE_COMPLETE")
    event(nested, nested.name, t, "DELETE_COMPLETE", None, nested.stack_id)
    nested.status = "DELETE_COMPLETE"
    why = f"Embedded stack {nested.stack_id} was not successfully created: The following resource(s) failed to create: [{inner['Resource']}]. "
    return nested.stack_id, why


def named_ssm_parameters():
    """An AWS::SSM::Parameter without `Name` gets the name CloudFormation generates for it
    (its physical id), as in AWS; moto fails the whole change set with a 500 instead, and
    leaves the stack half-updated (new parameters, old outputs)."""
    from moto.ssm import models as ssm

    original = ssm.Parameter.create_from_cloudformation_json.__func__

    def create(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
        props = dict(cloudformation_json.get("Properties") or {})
        if not props.get("Name"):
            props["Name"] = resource_name
            cloudformation_json = dict(cloudformation_json, Properties=props)
        return original(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)

    ssm.Parameter.create_from_cloudformation_json = classmethod(create)


def install():
    named_ssm_parameters()
    cfn.ChangeSet.diff = patched_diff
    cfn.CloudFormationBackend.create_change_set = patched_create
    cfn.CloudFormationBackend.execute_change_set = patched_execute
    cfn.CloudFormationBackend.describe_change_set = patched_describe
    cfn.CloudFormationBackend.delete_change_set = patched_delete
    cfn.CloudFormationBackend.list_change_sets = patched_list
