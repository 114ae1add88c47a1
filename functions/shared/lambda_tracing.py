"""The one Powertools Tracer every handler takes: `from lambda_tracing import tracer`.

`Tracer()` without `patch_modules` runs the X-Ray SDK's `patch_all()`, which imports every
library X-Ray can instrument that happens to be installed (requests, httpx, sqlite3, pg8000,
pynamodb, ...) on every cold start, about twice what `import boto3` costs. Handlers call AWS
through botocore and HTTP through `http.client` (urllib.request), so exactly those two are
patched: every AWS call and every outgoing HTTP request is still a subsegment. A handler that
calls out through another library patches that one too, next to the import that needs it
(`tracer.patch(["requests"])` in xray_tracer's http_flow).

Powertools shares a Tracer's settings between instances but patches only what each
constructor names (a later `Tracer()` would run `patch_all()` after all), so handlers never
build their own. `packaging.build` puts this module at the root of every function's zip.
"""

from __future__ import annotations

from aws_lambda_powertools import Tracer

PATCHED_MODULES = ("botocore", "httplib")

tracer = Tracer(patch_modules=PATCHED_MODULES)
