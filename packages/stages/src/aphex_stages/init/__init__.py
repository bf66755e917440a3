"""`aphex init`: a CDK app's ``aphex-config.yaml``, example post-deploy test, schema and
``.gitignore`` lines, made from the app itself.

    from aphex_stages.init.options import add_init_parser   # light: the parser only
    from aphex_stages.init.command import run_init          # 0 written, 1 not, 2 usage

Modules: ``options`` (the command line), ``project`` (the app's folder and git), ``synth``
(one offline ``cdk synth``), ``assembly`` (stacks in dependency order), ``render`` (the
files' text), ``scaffold`` (writing them, never over existing ones), ``command`` (the flow).
"""
