"""The names of the fuzz targets, in a module that imports nothing.

``bench/fuzz.py`` reads them before it instruments the code it fuzzes: importing the targets
themselves there would load that code uninstrumented.
"""

TARGET_NAMES = (
    "signature",
    "bundle_manifest",
    "package_manifest",
    "trust_file",
    "enrolment_file",
    "bundle_container",
    "bundle_signed",
    "package_container",
    "package_signed",
    "upload_image",
    "upload_zip",
    "markdown",
    "search_query",
    "oai_request",
    "curriculum_file",
    "submission_text",
    "exercises",
)
