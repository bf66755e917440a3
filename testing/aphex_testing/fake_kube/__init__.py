"""The fake Kubernetes API server of the tests: the product's embedded API server
(:mod:`aphex_stages.local.kubeapi`), with recording and disturbance hooks.

No real kube-apiserver can run here, so tests talk to the local run's own server through
the official `kubernetes` client; it answers like the API server (see that package). By
default it neither authenticates nor enforces namespaces (the tests create none); pass
``authenticate=True`` or ``enforce_namespaces=True`` to :class:`FakeKube` for those.

Tests inspect and disturb it through :class:`FakeKube`: :meth:`FakeKube.get`,
:meth:`FakeKube.stored_json`, :meth:`FakeKube.objects`, :attr:`FakeKube.requests`,
:meth:`FakeKube.writes`, :meth:`FakeKube.touch` (a concurrent writer),
:meth:`FakeKube.conflict_after_get` and :meth:`FakeKube.inject_fault` (403s, 503s, slow
answers); :func:`fake_kube_server` and the ``fake_kube`` fixture start one.
"""

from aphex_testing.fake_kube.facade import FakeKube, RecordedRequest, fake_kube, fake_kube_server

__all__ = ["FakeKube", "RecordedRequest", "fake_kube", "fake_kube_server"]
