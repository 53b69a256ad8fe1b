"""nbgrader course directory: instructors' notebooks in solutions/, students' in exercises/."""

import os

from course_lib.grading.autograde import AUTOGRADE, SANITIZE

c = get_config()  # noqa: F821 (provided by nbgrader when it loads this file)

c.CourseDirectory.root = os.path.dirname(os.path.abspath(__file__))
c.CourseDirectory.course_id = "training-nn-pytorch"
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "exercises"
# Only notebooks are released: prose pages, caches and build output stay behind.
c.CourseDirectory.ignore = [
    ".ipynb_checkpoints",
    "*.pyc",
    "__pycache__",
    "*.md",
    ".jupyter_cache",
    "_build",
]
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
# Autograde runs submissions in a sandboxed worker and computes scores outside it
# (course_lib/grading/autograde.py): nbgrader's own sanitizing and saving steps around ours.
c.Autograde.sanitize_preprocessors = SANITIZE
c.Autograde.autograde_preprocessors = AUTOGRADE
# A cell of a submission may run this long; each check's call to a student function is stopped
# much earlier (COURSE_GRADING_TIME_LIMIT_S, 10 s by default).
c.SandboxedExecute.cell_timeout = 60
c.SandboxedExecute.cache_directory = os.path.join(c.CourseDirectory.root, ".grading-cache")
c.ExecutePreprocessor.timeout = 60
