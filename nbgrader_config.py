"""nbgrader course directory: instructors' notebooks in solutions/, students' in exercises/."""

import os

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
# A hanging submission is interrupted after this many seconds per cell; the checks in
# course_lib.grading stop a slow student function much earlier (see grading.TIME_LIMIT_S).
c.ExecutePreprocessor.timeout = 60
c.Execute.timeout = 60
