"""A fake Kubernetes API server over real HTTP for Argo's `workflowtemplates` and `workflows`.

No real kube-apiserver can run here, so tests talk to this one through the official
`kubernetes` client. It answers the way the API server answers for these two custom
resources (`argoproj.io/v1alpha1`, namespaced):

- POST creates (201, sets `resourceVersion`, `uid`, `creationTimestamp`, `generation`);
  a taken name is 409 AlreadyExists; a `resourceVersion` in the body is 500, as in etcd3.
- GET reads (404 NotFound), lists (per namespace or across them, `labelSelector` k=v).
- PUT replaces: no `resourceVersion` is 422 Invalid, a stale one 409 Conflict, a missing
  object 404; `generation` moves only when more than metadata changed.
- DELETE removes (a `Status` of Success).
- `dryRun=All` does every check and stores nothing; `fieldValidation=Strict` turns unknown
  or duplicate fields into 400 BadRequest ("strict decoding error"); `Warn` (the default)
  and `Ignore` drop them (`Warn` says so in `Warning` headers), as structural pruning does;
  the schema's `default`s are filled in.
- Documents are checked against the pinned full WorkflowTemplate CRD schema and its CEL
  rules (`aphex_generator.validation`, layers `crd` and `cel`): 422 Invalid with causes.

Every error is a proper `Status` object. `resourceVersion` grows monotonically across
the server. Tests inspect and disturb the store through :class:`FakeKube`:
:meth:`FakeKube.get`, :meth:`FakeKube.stored_json`, :meth:`FakeKube.requests`,
:meth:`FakeKube.touch` (a concurrent writer), :meth:`FakeKube.conflict_after_get` and
:meth:`FakeKube.inject_fault` (403s, 503s, slow answers).

Modules: ``facade`` (:class:`FakeKube`, the fixtures), ``server`` (HTTP, routing, faults),
``api`` (the verbs), ``store`` (objects, versions, requests), ``decode`` (decoding and
pruning), ``schema`` (name and CRD checks), ``status`` (the kinds served, error answers).
"""

from aphex_testing.fake_kube.facade import FakeKube, fake_kube, fake_kube_server
from aphex_testing.fake_kube.store import RecordedRequest

__all__ = ["FakeKube", "RecordedRequest", "fake_kube", "fake_kube_server"]
