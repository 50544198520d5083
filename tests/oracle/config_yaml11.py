"""Oracle: a shiftad config as PyYAML (YAML 1.1, the usual Python library) reads it.

    config_yaml11.py FILE

Prints one line per key: "KEY_TYPE VALUE_TYPE section.key=value", the types as Python
names them (a YAML 1.1 reader takes `on` and `yes` for booleans, `010` for a number).
"""
import sys

import yaml

with open(sys.argv[1]) as f:
    config = yaml.safe_load(f)
for section, keys in config.items():
    for key, value in keys.items():
        print(f"{type(key).__name__} {type(value).__name__} {section}.{key}={value}")
