"""The armtwin tasks, one module each: the env class (with its MimicGen spec as ``TASK_SPEC``) and its
scripted expert's targets. :mod:`armtwin.envs.registry` names them by env id; :mod:`._common` holds
the scene layout they share. Importing this package imports no task module (nor MuJoCo).
"""
