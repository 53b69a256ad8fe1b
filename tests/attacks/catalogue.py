'''Attacks on autograding, as a determined student would try them. Each entry is a submission of
01_initialization (or 00_foundations): answer cells replaced (``answers``; the solution where not
named, unless ``blank``), extra cells of the student's own inserted after the setup cell
(``cells``), and the test cells whose points the attack must not keep (``zero``): every other
test cell must earn exactly what the honest parts earn (full points for a solution, 0 for a
blank stub). The marker strings let the test find lingering processes and leaked text.'''

LINGER = "sleep 4242"
SEED_LEAK = "seed-leak:"
FOUND = "found-on-disk:"

BLANK_FULL_MARKS = {
    "patch check": "import course_lib.grading as g\ng.check = lambda *a, **k: 100.0",
    "patch score and forbid": (
        "import contextlib\nfrom course_lib.grading import _runner, _guard\n"
        "_runner.score = lambda outcomes, points: points\n"
        "_guard.forbid = lambda functions: contextlib.nullcontext([])"
    ),
    "replace sys.modules": (
        "import sys, types\nfake = types.ModuleType('course_lib.grading')\n"
        "fake.check = lambda *a, **k: 9.0\nsys.modules['course_lib.grading'] = fake"
    ),
    "interactivity and a nan formatter": (
        "ip = get_ipython()\nip.ast_node_interactivity = 'none'\n"
        "ip.display_formatter.formatters['text/plain'].for_type(float, lambda v, p, c: p.text('nan'))"
    ),
    "input transformer rewriting test cells": (
        "get_ipython().input_transformers_cleanup.append(\n"
        "    lambda lines: ['1.0\\n'] if any('check(' in line for line in lines) else lines)"
    ),
    "allclose and equal always true": (
        "import torch\ntorch.allclose = lambda *a, **k: True\ntorch.equal = lambda *a, **k: True"
    ),
    "harvest the hidden cases": (
        "import os, pathlib, glob\n"
        "found = [os.environ.get('COURSE_GRADING_SEED')]\n"
        "for path in glob.glob('/root/.config/course_lib/*') + glob.glob('/home/*/.config/course_lib/*'):\n"
        "    found.append(pathlib.Path(path).read_text())\n"
        f"print('{SEED_LEAK}', found)"
    ),
}

CHEATS = {
    "raise Delegated": ("eye_", "from course_lib.grading import _guard\ndef eye_(tensor):\n    raise _guard.Delegated('x')"),
    "tensor subclass that equals anything": ("eye_", (
        "class Liar(torch.Tensor):\n    @classmethod\n"
        "    def __torch_function__(cls, func, types, args=(), kwargs=None):\n        return True\n"
        "def eye_(tensor):\n    return tensor.as_subclass(Liar)"
    )),
    "NaN poison": ("uniform_", "def uniform_(tensor, a=0.0, b=1.0, generator=None):\n    return tensor.fill_(float('nan'))"),
    "second copy of torch.nn.init via importlib": ("xavier_uniform_", (
        "import importlib.util, torch\n"
        "spec = importlib.util.spec_from_file_location('copy', torch.nn.init.__file__)\n"
        "copy = importlib.util.module_from_spec(spec)\nspec.loader.exec_module(copy)\n"
        "def xavier_uniform_(tensor, gain=1.0, generator=None):\n"
        "    return copy.xavier_uniform_(tensor, gain, generator)"
    )),
    "exec of course_lib's source": ("orthogonal_", (
        "import inspect, course_lib.init\nreference = {}\n"
        "exec(inspect.getsource(course_lib.init), reference)\n"
        "def orthogonal_(tensor, gain=1, generator=None):\n"
        "    return reference['orthogonal_'](tensor, gain, generator)"
    )),
    "FunctionType copy": ("kaiming_normal_", (
        "import types\n"
        "kaiming_normal_ = types.FunctionType(torch.nn.init.kaiming_normal_.__code__, vars(torch.nn.init))"
    )),
    "gc restores the guard": ("normal_", (
        "import gc\ndef normal_(tensor, mean=0.0, std=1.0, generator=None):\n"
        "    gc.collect()\n    return torch.nn.init.normal_(tensor, mean, std, generator)"
    )),
    "getattr with a computed name": ("eye_", (
        "def eye_(tensor):\n    return getattr(torch.nn.init, 'ey' + 'e_')(tensor)"
    )),
    "bound in a loop": ("sparse_", "for _f in [torch.nn.init.sparse_]:\n    sparse_ = _f"),
}

# Honest solutions that do something odd, and damage that must not happen: full marks.
HARMLESS = {
    "write the gradebook": (
        "import glob\nfor path in glob.glob('/**/gradebook.db', recursive=True)[:5] + ['../../gradebook.db']:\n"
        "    try:\n        open(path, 'w').write('pwned')\n    except OSError as error:\n        print(error)"
    ),
    "edit course_lib's grading code": (
        "import course_lib.grading._runner as r\n"
        "try:\n    open(r.__file__, 'a').write('\\nscore = lambda o, p: p\\n')\nexcept OSError as error:\n    print(error)"
    ),
    "append to nbgrader_config.py": (
        "import course_lib, pathlib\n"
        "for parent in pathlib.Path(course_lib.__file__).parents:\n"
        "    try:\n        open(parent / 'nbgrader_config.py', 'a').write('\\nimport os\\n')\n"
        "    except OSError:\n        pass"
    ),
    "a process that outlives the submission": (
        "import subprocess\n"
        f"subprocess.Popen(['sh', '-c', '{LINGER}'], start_new_session=True)\n"
        "subprocess.Popen(['sh', '-c', '(sh -c \"" + LINGER + "\" &) ; exit 0'])"
    ),
    "overwrite a classmate and read the solutions": (
        "import glob, course_lib, pathlib\n"
        "roots = [pathlib.Path(course_lib.__file__).parents[2], pathlib.Path('../..'), pathlib.Path('/work'), pathlib.Path('/tmp')]\n"
        "for root in roots:\n"
        "    for path in glob.glob(str(root / '**' / '*.ipynb'), recursive=True)[:20]:\n"
        "        try:\n            print(open(path).read()[:3000])\n            open(path, 'a').write('x')\n"
        "        except OSError:\n            pass"
    ),
    "search the whole file system": (
        "import os\nfound = []\nfor root, dirs, files in os.walk('/'):\n"
        "    dirs[:] = [d for d in dirs if d not in ('proc', 'sys', 'dev', 'site-packages')]\n"
        "    found += [os.path.join(root, name) for name in files\n"
        "              if name in ('gradebook.db', 'grading_seed', 'nbgrader_config.py')\n"
        "              or name.endswith('.ipynb')]\n"
        f"print('{FOUND}', found)"
    ),
    "lock the gradebook": (
        "import fcntl, glob\nfor path in glob.glob('/**/gradebook.db', recursive=True)[:3]:\n"
        "    try:\n        fcntl.flock(open(path, 'a'), fcntl.LOCK_EX)\n    except OSError:\n        pass"
    ),
    "honest but noisy": (
        "import logging, os, sys, threading, time\nlogging.basicConfig(level=logging.DEBUG)\n"
        "logging.getLogger().warning('configured')\nos.write(2, b'to fd 2\\n')\n"
        "print('to the real stderr', file=sys.__stderr__)\n"
        "def chatter():\n    for _ in range(50):\n        print('background', file=sys.stderr)\n        time.sleep(0.05)\n"
        "threading.Thread(target=chatter, daemon=True).start()"
    ),
    "reach the network": (
        "import socket\nfor address in [('127.0.0.1', PORT), ('10.0.0.1', 80)]:\n"
        "    try:\n        socket.create_connection(address, timeout=1).send(b'hello')\n"
        "    except OSError as error:\n        print(error)"
    ),
    "a huge output": "print('x' * 50_000_000)",
    "kills its kernel at top level": "import os\nos._exit(3)",
}

# Functions that fail in ways a time limit or memory limit must contain: only their own points.
CONTAINED = {
    "hang that catches BaseException": ("sparse_", (
        "import time\ndef sparse_(tensor, sparsity, std=0.01, generator=None):\n"
        "    while True:\n        try:\n            time.sleep(0.1)\n        except BaseException:\n            pass"
    )),
    "one long C call": ("eye_", "import re\ndef eye_(tensor):\n    re.match(r'(a+)+$', 'a' * 64 + 'b')\n    return tensor"),
    "a memory bomb": ("orthogonal_", (
        "def orthogonal_(tensor, gain=1, generator=None):\n"
        "    hog = torch.ones(2**37)\n    return tensor"
    )),
}

FOUNDATIONS_CHEATS = {
    "torch.func.jvp": ("sigmoid_derivative", (
        "from torch.func import jvp\ndef sigmoid_derivative(x):\n"
        "    return jvp(torch.sigmoid, (x,), (torch.ones_like(x),))[1]"
    )),
    "grad_fn called by hand": ("tanh_derivative", (
        "def tanh_derivative(x):\n    x = x.detach().requires_grad_()\n    y = torch.tanh(x)\n"
        "    return y.grad_fn(torch.ones_like(y))"
    )),
}
