"""Database models: the curriculum, modules with their lessons, and media assets."""

from imaginecole.models.accounts import LoginFailure, User
from imaginecole.models.bundles import BuiltBundle, InstalledBundle
from imaginecole.models.curation import ModuleVersion
from imaginecole.models.curriculum import Competency, Country, Cycle, Domain, Level, Subject
from imaginecole.models.curriculum_history import CurriculumVersion
from imaginecole.models.media import Asset, ImageVariant
from imaginecole.models.modules import Lesson, LessonText, Module, ModuleCompetency
from imaginecole.models.national_uploads import BuildJob, ContentUpload
from imaginecole.models.submissions import (
    EnrolledSchool,
    ExportedPackage,
    ReceivedPackage,
    Review,
    Revision,
    Submission,
    Upload,
)

__all__ = [
    "BuildJob",
    "ContentUpload",
    "CurriculumVersion",
    "ModuleVersion",
    "EnrolledSchool",
    "ExportedPackage",
    "ReceivedPackage",
    "Review",
    "Revision",
    "Submission",
    "Upload",
    "Asset",
    "BuiltBundle",
    "Competency",
    "Country",
    "Cycle",
    "Domain",
    "ImageVariant",
    "InstalledBundle",
    "Lesson",
    "LoginFailure",
    "LessonText",
    "Level",
    "Module",
    "ModuleCompetency",
    "Subject",
    "User",
]
