"""Validates docker-compose.yml against the Compose Specification's JSON
schema (.ci/compose-spec.json, the compose-spec schema as shipped in the
docker-compose 1.29.2 wheel), since this machine has the docker client only
and `docker compose config` cannot run here. Also checks what the schema
cannot: every long-running service of ours has a healthcheck, and
everything that waits for another waits until it is healthy."""
import json
import sys

import jsonschema
import yaml

schema = json.load(open(".ci/compose-spec.json"))
doc = yaml.safe_load(open("docker-compose.yml"))
problems = [
    f"{'/'.join(map(str, e.path)) or '(top)'}: {e.message}"
    for e in jsonschema.Draft7Validator(schema).iter_errors(doc)
]
for name, svc in doc.get("services", {}).items():
    if "healthcheck" not in svc and not svc.get("profiles"):
        problems.append(f"services/{name}: no healthcheck")
    deps = svc.get("depends_on", {})
    if isinstance(deps, list):
        problems.append(f"services/{name}: depends_on without a condition")
    else:
        for dep, cond in deps.items():
            want = "service_completed_successfully" if dep == "migrate" else "service_healthy"
            if cond.get("condition") != want:
                problems.append(f"services/{name}: waits for {dep} without condition {want}")
for p in problems:
    print(f"docker-compose.yml: {p}")
print(f"docker-compose.yml: {len(doc.get('services', {}))} services, {len(problems)} problems")
sys.exit(1 if problems else 0)
