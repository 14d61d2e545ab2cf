"""The course importer: MkDocs-style Markdown folders read into modules (sync.course)."""

from __future__ import annotations

import csv
import hashlib
import io
import re
import shutil
from pathlib import Path

import pytest
from PIL import Image

from sync.content import MODULE_ID
from sync.course import CourseOptions, CourseTree, read_course
from sync.course.chapters import natural_key
from sync.model import Competency, Curriculum, Cycle, Domain, Level, Module, Subject

CORPUS = (Path(__file__).resolve().parents[3] / ".." / "shared" / "corpus").resolve()


# ---------------------------------------------------------------------------- helpers


def make_curriculum(
    code: str = "zz",
    levels: tuple[str, ...] = ("6e", "5e"),
    subjects: tuple[str, ...] = ("info", "maths"),
) -> Curriculum:
    return Curriculum(
        code=code,
        languages=["fr"],
        name={"fr": "Zedland"},
        framework_id=f"{code}-test",
        framework_version="2024",
        framework_title={"fr": "Programme de test"},
        cycles=[Cycle("college", {"fr": "Collège"})],
        levels=[
            Level(lv, lv.lower(), "college", 2, 7 + i, {"fr": lv}) for i, lv in enumerate(levels)
        ],
        domains=[Domain("sciences", {"fr": "Sciences"})],
        subjects=[Subject(slug, "sciences", {"fr": slug.capitalize()}) for slug in subjects],
        competencies=[],
    )


def make_options(**changes) -> CourseOptions:
    values = {
        "country": "zz",
        "levels": ["6e"],
        "subject": "info",
        "licence": "CC-BY-SA-4.0",
        "authors": ["Équipe test"],
        "attribution": "Équipe test, d'après un cours libre",
        "id_prefix": "",
    }
    values.update(changes)
    return CourseOptions(**values)


def write(root: Path, relative: str, content: str | bytes) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def image_bytes(fmt: str = "PNG", color: str = "red") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (4, 3), color).save(buffer, fmt)
    return buffer.getvalue()


def read(root: Path, **changes) -> CourseTree:
    return read_course(root, make_curriculum(), make_options(**changes))


def module(tree: CourseTree, suffix: str) -> Module:
    found = [m for m in tree.modules if m.id.endswith(suffix)]
    assert len(found) == 1, [m.id for m in tree.modules]
    return found[0]


def lesson_markdown(mod: Module, slug: str) -> str:
    return next(lesson for lesson in mod.lessons if lesson.slug == slug).texts["fr"].markdown


def skipped_text(tree: CourseTree) -> str:
    return "\n".join(str(problem) for problem in tree.skipped)


# ---------------------------------------------------------------------------- structure


def test_each_chapter_folder_becomes_a_module(tmp_path: Path) -> None:
    course = tmp_path / "mon_cours"
    write(course, "docs/index.md", "Bienvenue dans ce cours de découverte de la programmation.\n")
    write(
        course,
        "docs/T1_Bases/sommaire.md",
        "# Thème 1 : Les bases\n\n1. [Variables](../1.1_Variables/cours/)\n",
    )
    write(
        course,
        "docs/T1_Bases/1.1_Variables/exercices.md",
        "# Exercices\n\nFaire les exercices suivants.\n",
    )
    write(
        course,
        "docs/T1_Bases/1.1_Variables/cours.md",
        "# 1.1 Variables\n\nUne variable est un nom qui désigne une valeur.\n",
    )
    write(
        course, "docs/T1_Bases/1.1_Variables/intro_cours.md", "# Vers les variables\n\nActivité.\n"
    )
    write(course, "docs/T1_Bases/1.1_Variables/TP_boites.md", "# TP boîtes\n\nUn TP.\n")

    tree = read(course)

    assert not tree.problems
    assert not tree.skipped
    # The site's home page and the theme's summary are no modules: they open the first chapter.
    assert [m.id for m in tree.modules] == ["zz-mon-cours-t1-bases-1-1-variables"]
    variables = module(tree, "1-1-variables")
    assert [lesson.slug for lesson in variables.lessons] == [
        "introduction",
        "introduction-2",
        "cours",
        "intro-cours",
        "exercices",
        "tp-boites",
    ]
    assert [lesson.position for lesson in variables.lessons] == [1, 2, 3, 4, 5, 6]
    assert "Bienvenue dans ce cours" in lesson_markdown(variables, "introduction")
    assert variables.lessons[1].texts["fr"].title == "Thème 1 : Les bases"
    assert variables.title == {"fr": "Variables"}
    assert variables.summary == {"fr": "Une variable est un nom qui désigne une valeur."}
    assert variables.keywords == ["bases", "variables"]
    assert (variables.language, variables.version, variables.resource_type) == ("fr", 1, "course")
    assert (variables.levels, variables.subject, variables.licence) == (
        ["6e"],
        "info",
        "CC-BY-SA-4.0",
    )
    assert variables.competencies == [] and variables.country == "zz"
    assert [a.name for a in variables.authors] == ["Équipe test"]
    assert (
        tree.sources[("zz-mon-cours-t1-bases-1-1-variables", "tp-boites")]
        == (course / "docs/T1_Bases/1.1_Variables/TP_boites.md").resolve()
    )


def test_a_flat_folder_of_numbered_pages_is_split_into_chapters(tmp_path: Path) -> None:
    course = tmp_path / "manuel"
    cours = "## 1) Introduction\n\nDu texte d'introduction assez long pour un résumé.\n\n## 2) Les bases de données\n\nSuite.\n"
    for name, text in {
        "c1r.md": "### Ce qu'il faut savoir\n\n- tout\n",
        "c1a.md": "### activité 1.1\n\nTrouvez des exemples.\n",
        "c1c.md": cours,
        "c1e.md": "### exercice 1\n\nUn exercice.\n",
        "c2c.md": "Un cours sans titre du tout, avec assez de mots pour un résumé.\n",
        "c2a.md": "Activités.\n",
        "c10c.md": "Chapitre dix.\n",
        "c10a.md": "Activités dix.\n",
        "pr1.md": "Avant d'évoquer le projet en tant que tel, travaillons.\n\n### projet 1.1\n\nÀ faire.\n",
    }.items():
        write(course, f"docs/{name}", text)

    tree = read(course)

    assert [m.id for m in tree.modules] == [
        "zz-manuel-c1",
        "zz-manuel-c2",
        "zz-manuel-c10",
        "zz-manuel-pr1",
    ]
    first = tree.modules[0]
    assert [lesson.slug for lesson in first.lessons] == ["c1c", "c1a", "c1e", "c1r"]
    assert [lesson.texts["fr"].title for lesson in first.lessons] == [
        "Chapitre 1 – cours",
        "Chapitre 1 – activités",
        "Chapitre 1 – exercices",
        "Chapitre 1 – fiche de révision",
    ]
    assert first.title == {"fr": "Chapitre 1 – Les bases de données"}
    assert module(tree, "-c2").title == {"fr": "Chapitre 2"}
    assert module(tree, "-pr1").title == {"fr": "Projet 1"}
    assert lesson_markdown(first, "c1c").startswith("# Chapitre 1 – cours\n\n## 1) Introduction")


def test_numbered_pages_that_are_not_chapters_stay_together(tmp_path: Path) -> None:
    course = tmp_path / "cours"
    write(course, "docs/T8_DS/DS01.md", "# DS 1\n\nSujet.\n")
    write(course, "docs/T8_DS/DS03.md", "# DS 3\n\nSujet.\n")
    write(course, "docs/IA/activite1.md", "# Activité 1\n\nA.\n")
    write(course, "docs/IA/activite2.md", "# Activité 2\n\nB.\n")
    write(course, "docs/IA/activite10.md", "# Activité 10\n\nC.\n")
    write(course, "docs/IA/cours.md", "# L'IA\n\nCours.\n")

    tree = read(course)

    assert [m.id for m in tree.modules] == ["zz-cours-ia", "zz-cours-t8-ds"]
    assert [lesson.slug for lesson in tree.modules[0].lessons] == [
        "cours",
        "activite1",
        "activite2",
        "activite10",
    ]


def test_titles_come_from_headings_or_are_made_up(tmp_path: Path) -> None:
    course = tmp_path / "c"
    write(
        course, "docs/ch/cours.md", "{{initexo(0)}}\n\n# Les boucles :star: {: .center}\n\nTexte.\n"
    )
    write(
        course,
        "docs/ch/notes.md",
        "Pas de titre de niveau 1.\n\n## 2. Boucle `#!python for`\n\nTexte.\n",
    )
    write(course, "docs/ch/fiche_de_revision.md", "Aucun titre ici.\n")
    write(course, "docs/ch/code.md", "```python\n# pas un titre\n```\n\n# Le vrai titre\n")

    tree = read(course)
    mod = tree.modules[0]
    titles = {lesson.slug: lesson.texts["fr"].title for lesson in mod.lessons}

    assert titles == {
        "cours": "Les boucles ★",
        "code": "Le vrai titre",
        "fiche-de-revision": "Fiche de revision",
        "notes": "Boucle for",
    }
    # A page without a "# " heading gets one, so it reads like any other lesson.
    assert lesson_markdown(mod, "notes").startswith("# Boucle for\n\nPas de titre")
    assert lesson_markdown(mod, "fiche-de-revision").startswith("# Fiche de revision\n")
    assert mod.title == {"fr": "Les boucles ★"}


def test_a_module_title_recovers_accents_of_its_folder_name(tmp_path: Path) -> None:
    course = tmp_path / "c"
    write(course, "docs/4.4_Tri_par_selection/cours.md", "# 4.4 Tri par sélection\n\nTexte.\n")
    write(
        course,
        "docs/T2_Representation_des_donnees/exercices.md",
        "# Exercices\n\nSur la représentation des données.\n",
    )
    write(course, "docs/T6_Mini-projets/jeu.md", "# Un jeu\n\nTexte.\n")
    write(course, "docs/T6_Mini-projets/robot.md", "# Un robot\n\nTexte.\n")

    tree = read(course)

    assert module(tree, "4-4-tri-par-selection").title == {"fr": "Tri par sélection"}
    assert module(tree, "t2-representation-des-donnees").title == {
        "fr": "Représentation des données"
    }
    assert module(tree, "t6-mini-projets").title == {"fr": "Mini-projets"}
    assert module(tree, "t6-mini-projets").keywords == ["mini", "projets"]


# ---------------------------------------------------------------------------- the site's syntax


def test_macros_and_comments_are_applied_like_the_site_did(tmp_path: Path) -> None:
    page = '''# Exercices

{{ initexo(0) }}
!!! example "{{ exercice() }}"
    Premier.

{#
!!! example "{{ exercice() }}"
    Caché : ce commentaire ne compte pas.
#}

!!! example "{{exercice()}}"
    Deuxième.

    {{
    correction(True,
    """
    ??? success \\"Correction\\"
        ```python
        print(\\"ok\\")
        ```
    """
    )
    }}

!!! example "{{ question() }}"
    {{ correction(False, "la solution cachée") }}

{{ IDEv() }}
{{ terminal() }}
{{ initexo(6) }}
!!! example "{{ exercice() }}"
    Après une remise à 6.

<!-- une note pour le professeur -->
```python
x = "{{ exercice() }}"  # {# pas un commentaire #}
```
'''
    course = tmp_path / "c"
    write(course, "docs/ch/exos.md", page)
    write(
        course,
        "docs/ch/autre.md",
        '# Autre\n\n!!! example "{{ exercice() }}"\n    Numéroté par page.\n',
    )

    tree = read(course)
    markdown = lesson_markdown(tree.modules[0], "exos")

    assert '!!! example "Exercice 1"' in markdown
    assert '!!! example "Exercice 2"' in markdown
    assert '!!! example "Exercice 7"' in markdown
    assert '!!! example "Question 1"' in markdown
    assert (
        "Caché" not in markdown
        and "la solution cachée" not in markdown
        and "professeur" not in markdown
    )
    assert "IDEv" not in markdown and "terminal" not in markdown and "initexo" not in markdown
    # The correction's text is shown, its quotes unescaped and its indentation kept.
    assert (
        '    ??? success "Correction"\n        ```python\n        print("ok")\n        ```'
        in markdown
    )
    # Fenced code is left exactly as written.
    assert '```python\nx = "{{ exercice() }}"  # {# pas un commentaire #}\n```' in markdown
    assert '!!! example "Exercice 1"' in lesson_markdown(tree.modules[0], "autre")
    assert not tree.skipped


def test_site_specific_markdown_is_rewritten_outside_code(tmp_path: Path) -> None:
    page = """# Syntaxe du site

![un chat](chat.png){: .center width=50%}

Un lien [externe](https://example.org){:target="_blank"} et [un autre](https://example.org){. target="_blank"}.
Un paragraphe.
{ width=300 }

J'aime :heart: et :star: ; :octicons-star-24: :material-star-outline: :octicons-search-16: ; il est 12:21:00.

Ligne un<br>ligne deux

<center>
![centrée](chat.png)
</center>

<img src="chat.png" alt="un chat en HTML" width=50%>

??? success \\"Correction\\"
    Texte.

=== "Énoncé"
    Le sujet.
=== "Correction"
    La réponse.

| a | b<br>c |
|---|---|
| 1 | 2 |

`{: .center} :star: <br>` reste tel quel en code, comme $\\{x \\mid x = 1\\}$.

```html
<img src="chat.png"> {: .center} :star: <br>
```
"""
    course = tmp_path / "c"
    write(course, "docs/ch/page.md", page)
    write(course, "docs/ch/chat.png", image_bytes())

    tree = read(course)
    markdown = lesson_markdown(tree.modules[0], "page")

    assert "![un chat](chat.png)\n" in markdown
    assert "[externe](https://example.org) et [un autre](https://example.org)." in markdown
    assert "{" not in markdown.split("`{")[0]  # every attribute list before the code is gone
    assert "J'aime ♥ et ★ ; ☆ ☆  ; il est 12:21:00." in markdown
    assert "Ligne un\\\nligne deux" in markdown
    assert "<center>" not in markdown and "![centrée](chat.png)" in markdown
    assert "![un chat en HTML](chat.png)" in markdown
    assert '??? success "Correction"' in markdown
    assert '???+ note "Énoncé"\n    Le sujet.\n\n??? note "Correction"\n    La réponse.' in markdown
    assert "| a | b c |" in markdown
    assert (
        "`{: .center} :star: <br>` reste tel quel en code, comme $\\{x \\mid x = 1\\}$." in markdown
    )
    assert '```html\n<img src="chat.png"> {: .center} :star: <br>\n```' in markdown
    assert tree.modules[0].lessons[0].texts["fr"].media == {
        "chat.png": hashlib.sha256(image_bytes()).hexdigest()
    }


def test_admonitions_maths_tables_and_code_are_kept_and_render(tmp_path: Path) -> None:
    from imaginecole.rendering.markdown import render_markdown

    page = """# Tout est gardé

!!! note "À retenir"
    Une fraction $\\frac{a}{b}$ partage l'unité.

    ```python
    def f(x):
        return {x: 1}
    ```

??? tip "Indice"
    Le bloc se replie.

???+ warning "Ouvert"
    Déjà ouvert.

$$
\\sum_{i=0}^{n} i
$$

| Nom | Valeur |
|:---:|---:|
| $n$ | 2 |
"""
    course = tmp_path / "c"
    write(course, "docs/ch/page.md", page)

    markdown = lesson_markdown(read(course).modules[0], "page")
    assert markdown == page  # nothing of our dialect is touched

    html = render_markdown(markdown)
    assert '<div class="admonition note">' in html and "<summary" in html and "<details" in html
    assert "<math" in html and "<table>" in html
    assert "return {x: 1}" in html


# ---------------------------------------------------------------------------- media


def test_images_are_resolved_hashed_and_shared(tmp_path: Path) -> None:
    course = tmp_path / "c"
    png = image_bytes()
    write(course, "docs/img/photo de classe é.png", png)
    write(course, "docs/img/shared.jpg", image_bytes("JPEG"))
    write(
        course,
        "docs/ch/a.md",
        "# A\n\n![photo](../img/photo%20de%20classe%20é.png)\n\n![](../img/shared.jpg)\n",
    )
    write(course, "docs/ch/b.md", "# B\n\n![même](../img/shared.jpg)\n")

    tree = read(course)
    mod = tree.modules[0]
    a = mod.lessons[0].texts["fr"]
    sha = hashlib.sha256(png).hexdigest()

    assert not tree.skipped
    assert a.media == {
        "../img/photo%20de%20classe%20%C3%A9.png": sha,
        "../img/shared.jpg": hashlib.sha256(image_bytes("JPEG")).hexdigest(),
    }
    assert "![photo](../img/photo%20de%20classe%20%C3%A9.png)" in a.markdown
    blob = mod.blobs[sha]
    assert (blob.size, blob.media_type, blob.name) == (
        len(png),
        "image/png",
        "photo de classe é.png",
    )
    assert len(mod.blobs) == 2  # the image used by both pages is one blob
    # The image with no description still comes through, and is reported with its line.
    [undescribed] = tree.undescribed
    assert undescribed.path.endswith("ch/a.md") and undescribed.line == 5
    assert undescribed.message.startswith('"../img/shared.jpg": no description (alt text)')


def test_every_image_without_a_description_is_reported_once_per_use(tmp_path: Path) -> None:
    course = tmp_path / "c"
    write(course, "docs/ch/img.png", image_bytes())
    write(
        course,
        "docs/ch/a.md",
        '# A\n\n![](img.png)\n\n![  ](img.png "titre")\n\n<img src="img.png">\n\n'
        "![décrite](img.png)\n\n```\n![](img.png)\n```\n",
    )

    tree = read(course)

    assert [(p.line, p.field) for p in tree.undescribed] == [
        (3, "image"),
        (5, "image"),
        (7, "image"),
    ]
    assert not tree.skipped and len(tree.modules[0].blobs) == 1


def test_index_pages_open_the_chapter_below_and_chapters_sort_naturally(tmp_path: Path) -> None:
    course = tmp_path / "c"
    write(
        course,
        "docs/index.md",
        "# Mon cours\n\nLe cours entier, de septembre à juin, en dix thèmes.\n",
    )
    write(course, "docs/Themes/README.md", "# Les thèmes\n\nDeux thèmes.\n")
    for number in (10, 2, 1):
        write(course, f"docs/Themes/{number}_Theme/cours.md", f"# Thème {number}\n\nTexte.\n")
    write(
        course,
        "docs/Themes/Introduction/index.md",
        "# Pour commencer\n\nCe chapitre présente la méthode de travail de l'année.\n",
    )
    write(course, "docs/Seul/index.md", "# Un chapitre d'une page\n\nTexte.\n")

    tree = read(course)

    assert [m.id for m in tree.modules] == [
        "zz-c-seul",  # an index page alone in its folder is a chapter of one page
        "zz-c-themes-1-theme",
        "zz-c-themes-2-theme",
        "zz-c-themes-10-theme",
        "zz-c-themes-introduction",
    ]
    intro = module(tree, "themes-introduction")
    assert [lesson.slug for lesson in intro.lessons] == ["introduction", "introduction-2", "index"]
    assert intro.title == {"fr": "Pour commencer"}  # not "Mon cours": that page is the course's
    assert intro.summary == {"fr": "Ce chapitre présente la méthode de travail de l'année."}
    assert [len(m.lessons) for m in tree.modules[:4]] == [1, 1, 1, 1]


def test_a_course_can_be_grouped_under_a_competency_of_its_subject(tmp_path: Path) -> None:
    course = tmp_path / "c"
    write(course, "docs/a/cours.md", "# A\n\nTexte.\n")
    write(course, "docs/b/cours.md", "# B\n\nTexte.\n")
    curriculum = make_curriculum()
    curriculum.competencies = [
        Competency("PROG", "info", "domain", {"fr": "Programmer"}),
        Competency("CALC", "maths", "domain", {"fr": "Calculer"}),
    ]

    tree = read_course(course, curriculum, make_options(competencies=["PROG"]))
    assert [m.competencies for m in tree.modules] == [["PROG"], ["PROG"]]

    for codes, message in (
        (["NOPE"], 'competency "NOPE" is not in the curriculum of zz'),
        (["CALC"], 'competency "CALC" belongs to the subject "maths", not "info"'),
    ):
        refused = read_course(course, curriculum, make_options(competencies=codes))
        assert not refused.modules and [p.message for p in refused.problems] == [message]


def test_images_that_cannot_be_used_are_reported_and_replaced_by_their_description(
    tmp_path: Path,
) -> None:
    course = tmp_path / "site" / "c"
    write(course.parent, "secret.png", image_bytes())
    write(course, "docs/ch/data/logo.svg", "<svg xmlns='http://www.w3.org/2000/svg'/>")
    write(course, "docs/ch/data/faux.jpg", image_bytes("PNG"))
    write(course, "docs/ch/data/casse.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)
    page = """# Images

![Aaron Swartz](data/swartz.jpg){: .center width=30%}
![le logo](data/logo.svg)
![](data/faux.jpg)
![hors du cours](../../../secret.png)
![](data/casse.png)
![en ligne](https://example.org/image.png)
"""
    write(course, "docs/ch/page.md", page)

    tree = read(course)
    markdown = lesson_markdown(tree.modules[0], "page")
    page_path = (course / "docs/ch/page.md").resolve()

    assert [(p.path, p.line, p.field) for p in tree.skipped] == [
        (str(page_path), n, "image") for n in range(3, 9)
    ]
    reasons = [p.message for p in tree.skipped]
    assert reasons[0] == '"data/swartz.jpg": no such file'
    assert "SVG images are not supported" in reasons[1]
    assert reasons[2] == '"data/faux.jpg": the content is not a JPG file'
    assert reasons[3] == '"../../../secret.png": points outside the course folder'
    assert reasons[4] == '"data/casse.png": the image cannot be read'
    assert "another website" in reasons[5]
    assert (
        "*Aaron Swartz*\n*le logo*\n*faux.jpg*\n*hors du cours*\n*casse.png*\n*en ligne*"
        in markdown
    )
    assert tree.modules[0].blobs == {} and not tree.problems


def test_links_keep_their_text(tmp_path: Path) -> None:
    course = tmp_path / "c"
    write(course, "docs/ch/data/fiche.pdf", b"%PDF-1.4\n" + b"0" * 100)
    write(course, "docs/ch/data/script.py", "print(1)\n")
    write(course, "docs/ch/autre.md", "# Autre\n")
    page = """# Liens

Voir [l'autre page](autre.md), [le cours](../ch/cours/) et [la suite](#suite).
Télécharger [le script](data/script.py) ou [la fiche](data/fiche.pdf "La fiche") ou [le tableur](data/notes.csv).
Un [site](https://example.org/page.md).
"""
    write(course, "docs/ch/page.md", page)

    tree = read(course)
    markdown = lesson_markdown(tree.modules[0], "page")
    sha = hashlib.sha256((course / "docs/ch/data/fiche.pdf").read_bytes()).hexdigest()

    assert "Voir l'autre page, le cours et [la suite](#suite)." in markdown
    assert (
        'Télécharger le script ou [la fiche](data/fiche.pdf "La fiche") ou le tableur.' in markdown
    )
    assert "[site](https://example.org/page.md)" in markdown
    assert tree.modules[0].lessons[1].texts["fr"].media == {"data/fiche.pdf": sha}
    assert [(p.line, p.field, p.message) for p in tree.skipped] == [
        (
            4,
            "link",
            '"data/script.py": not a supported media type (.py); the link was removed, its text kept',
        ),
        (
            4,
            "link",
            '"data/notes.csv": not a supported media type (.csv); the link was removed, its text kept',
        ),
    ]


def test_reported_lines_point_at_the_page_as_written(tmp_path: Path) -> None:
    page = '# Titre\n\n!!! example "{{ exercice() }}"\n    {{\n    correction(True,\n    """\n    Voir :\n\n    ![a](manque1.png)\n    """\n    )\n    }}\n\n{#\nun\ncommentaire\n#}\n![b](manque2.png)\n'
    course = tmp_path / "c"
    write(course, "docs/ch/page.md", page)

    tree = read(course)

    assert [p.line for p in tree.skipped] == [9, 18]


# ---------------------------------------------------------------------------- pages that cannot be lessons


def test_unreadable_and_empty_pages_are_skipped_and_the_others_load(tmp_path: Path) -> None:
    course = tmp_path / "c"
    write(course, "docs/ch/bon.md", "# Bon\n\nTexte.\n")
    write(course, "docs/ch/latin1.md", "# Titre\n\nDeuxième ligne\n".encode("latin-1"))
    write(course, "docs/ch/vide.md", "  \n\n")
    write(course, "docs/seul/latin1.md", "é".encode("latin-1"))

    tree = read(course)

    assert [m.id for m in tree.modules] == ["zz-c-ch"]
    assert [lesson.slug for lesson in tree.modules[0].lessons] == ["bon"]
    found = {(Path(p.path).name, p.line, p.message) for p in tree.skipped}
    assert ("latin1.md", 3, "the page is not valid UTF-8 text") in found
    assert ("vide.md", None, "the page is empty") in found
    assert ("seul", None, "no page of this chapter could be used, so no module was made") in found
    assert not tree.problems


# ---------------------------------------------------------------------------- options and credits


def test_options_not_in_the_curriculum_are_problems_and_nothing_is_read(tmp_path: Path) -> None:
    course = tmp_path / "c"
    write(course, "docs/ch/page.md", "# Page\n")

    tree = read(course, levels=["6e", "CM7"], subject="chimie", licence="Tous droits réservés")

    assert tree.modules == []
    assert [(p.field, p.line) for p in tree.problems] == [
        ("levels", None),
        ("subject", None),
        ("licence", None),
    ]
    messages = [p.message for p in tree.problems]
    assert messages[0] == 'level "CM7" is not in the curriculum of zz (known: 6e, 5e)'
    assert messages[1] == 'subject "chimie" is not in the curriculum of zz (known: info, maths)'
    assert messages[2].startswith('"Tous droits réservés" is not an open licence')
    assert all(p.path == str(course.resolve()) for p in tree.problems)


def test_country_and_prefix_are_checked(tmp_path: Path) -> None:
    course = tmp_path / "c"
    write(course, "docs/ch/page.md", "# Page\n")

    assert [p.field for p in read(course, country="sn").problems] == ["country"]
    assert [p.field for p in read(course, id_prefix="Mon Cours").problems] == ["id_prefix"]
    assert [m.id for m in read(course, id_prefix="zz-nsi").modules] == ["zz-nsi-ch"]
    assert read(tmp_path / "absent").problems[0].message == "no such course folder"
    write(tmp_path, "vide/notes.txt", "rien")
    assert "no Markdown page" in read(tmp_path / "vide").problems[0].message


def test_credits_come_from_attribution_md(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    write(
        corpus,
        "glassus/ATTRIBUTION.md",
        """# Attribution

- **Author:** Gilles Lassus, Lycée François Mauriac, Bordeaux (académie de Bordeaux).
- **Suggested attribution text:**
  > Cours de SNT, Première NSI et Terminale NSI — Gilles Lassus, https://glassus.github.io/ —
  > licence CC BY-SA.
""",
    )
    write(corpus, "glassus/premiere_nsi/docs/index.md", "Accueil du cours.\n")
    write(
        corpus,
        "roche/ATTRIBUTION.md",
        """- **Main author:** David Roche (commits as `roche`).
  Attribution is not legally required but is good practice:
  > Manuel NSI Terminale — David Roche et contributeurs — CC0.
""",
    )
    for name in ("c1c", "c1a", "c2c"):
        write(corpus, f"roche/docs/{name}.md", "Cours.\n")
    write(corpus, "anonyme/docs/page.md", "# Page\n")

    premiere = read(corpus / "glassus/premiere_nsi", authors=[], attribution="").modules[0]
    roche = read(corpus / "roche/docs", authors=[], attribution="").modules[0]
    anonyme = read(corpus / "anonyme", authors=[], attribution="").modules[0]

    assert [a.name for a in premiere.authors] == ["Gilles Lassus"]
    # One sentence for readers, not the file's wording: work, authors, source, licence.
    assert premiere.attribution == (
        "« Cours de SNT, Première NSI et Terminale NSI », par Gilles Lassus, "
        "https://glassus.github.io/, licence CC BY-SA 4.0."
    )
    assert premiere.title == {
        "fr": "Première NSI"
    }  # the course name, written as its credits write it
    assert premiere.id == "zz-premiere-nsi-accueil"
    assert [a.name for a in roche.authors] == ["David Roche"]
    assert roche.attribution == "« Manuel NSI Terminale », par David Roche, licence CC BY-SA 4.0."
    assert roche.id == "zz-roche-c1"  # a folder named docs takes its parent's name
    assert [a.name for a in anonyme.authors] == ["anonyme"]
    assert anonyme.attribution == "« Anonyme », par anonyme, licence CC BY-SA 4.0."
    chosen = read(
        corpus / "glassus/premiere_nsi",
        authors=["A. Autre", "B. Bé"],
        attribution="",
        licence="CC0-1.0",
    ).modules[0]
    assert [a.name for a in chosen.authors] == ["A. Autre", "B. Bé"]
    assert chosen.attribution == (
        "« Cours de SNT, Première NSI et Terminale NSI », par A. Autre et B. Bé, "
        "https://glassus.github.io/, licence CC0 1.0."
    )
    written = read(corpus / "anonyme", attribution="Équipe Z, d'après un cours libre").modules[0]
    assert written.attribution == "Équipe Z, d'après un cours libre"  # given: kept as written


# ---------------------------------------------------------------------------- ids, summaries, determinism


def test_ids_are_short_unique_and_stable(tmp_path: Path) -> None:
    course = tmp_path / "c"
    deep = "/".join(f"Partie_{i}_avec_un_nom_vraiment_long" for i in range(4))
    write(course, f"docs/{deep}/page.md", "# Profond\n")
    write(course, "docs/Mini projets/a.md", "# A\n")
    write(course, "docs/Mini_projets/a.md", "# A\n")
    write(course, "docs/Mini_projets/A.md.md", "# A encore\n")

    first = read(course)
    ids = [m.id for m in first.modules]

    assert len(set(ids)) == len(ids)
    assert all(MODULE_ID.match(i) and len(i) <= 100 and i.startswith("zz-c-") for i in ids)
    assert "zz-c-mini-projets" in ids and "zz-c-mini-projets-2" in ids
    assert [lesson.slug for lesson in module(first, "mini-projets-2").lessons] == ["a", "a-md"]
    assert ids == [m.id for m in read(course).modules]


def test_the_summary_is_the_first_paragraph_cut_at_a_word(tmp_path: Path) -> None:
    course = tmp_path / "c"
    long_paragraph = " ".join(
        ["Un paragraphe [avec un lien](https://example.org) et du **gras**."] * 10
    )
    write(
        course,
        "docs/ch/cours.md",
        f"# Titre\n\n![image](x.png)\n\n!!! note\n    Dans un bloc.\n\n{long_paragraph}\n",
    )

    summary = read(course).modules[0].summary["fr"]

    assert summary.startswith("Un paragraphe avec un lien et du gras. Un paragraphe")
    assert summary.endswith("…") and len(summary) <= 300 and " " not in summary[-3:]


def test_the_same_folder_gives_the_same_modules(tmp_path: Path) -> None:
    course = tmp_path / "c"
    write(course, "docs/b/cours.md", "# B\n\n![x](../img/x.png)\n")
    write(course, "docs/a/cours.md", "# A :star:\n\n{{ exercice() }}\n")
    write(course, "docs/img/x.png", image_bytes())
    copy = tmp_path / "ailleurs" / "c"
    shutil.copytree(course, copy)

    runs = [read(course), read(course), read(copy)]

    fingerprints = [[(m.id, m.fingerprint()) for m in tree.modules] for tree in runs]
    assert fingerprints[0] == fingerprints[1] == fingerprints[2]


# ---------------------------------------------------------------------------- the real corpus

SITES = {
    "glassus-nsi/snt": ("glassus-nsi", "snt/", "2nde", "snt"),
    "glassus-nsi/premiere_nsi": ("glassus-nsi", "premiere_nsi/", "1re", "nsi"),
    "glassus-nsi/terminale_nsi": ("glassus-nsi", "terminale_nsi/", "Tle", "nsi"),
    "roche-nsi-terminale": ("roche-nsi-terminale", "", "Tle", "nsi"),
}


def french_curriculum() -> Curriculum:
    return make_curriculum("fr", levels=("2nde", "1re", "Tle"), subjects=("snt", "nsi"))


@pytest.fixture(scope="module")
def corpus() -> Path:
    if not CORPUS.is_dir():
        pytest.skip(f"the course corpus is not at {CORPUS}")
    return CORPUS


@pytest.mark.corpus
@pytest.mark.parametrize("site", sorted(SITES))
def test_every_lesson_page_of_the_corpus_comes_through(corpus: Path, site: str) -> None:
    folder, prefix, level, subject = SITES[site]
    with (corpus / folder / "manifest.tsv").open(encoding="utf-8", newline="") as stream:
        manifest = {
            row["path"][len(prefix) :]
            for row in csv.DictReader(stream, delimiter="\t")
            if row["path"].startswith(prefix)
        }
    root = corpus / site
    options = CourseOptions(country="fr", levels=[level], subject=subject, licence="CC-BY-SA-4.0")

    tree = read_course(root, french_curriculum(), options)

    imported = {path.relative_to(root.resolve()).as_posix() for path in tree.sources.values()}
    assert manifest and imported == manifest
    assert not tree.problems
    assert sum(len(m.lessons) for m in tree.modules) == len(manifest)
    ids = [m.id for m in tree.modules]
    assert len(set(ids)) == len(ids) and all(MODULE_ID.match(i) and len(i) <= 100 for i in ids)
    for mod in tree.modules:
        assert mod.title["fr"] and mod.summary["fr"] and mod.authors and mod.attribution
        for lesson in mod.lessons:
            text = lesson.texts["fr"]
            assert text.title and re.search(r"^# ", text.markdown, re.M)
            for target, sha in text.media.items():
                assert f"]({target}" in text.markdown and sha in mod.blobs
    for problem in tree.skipped:
        target, _, reason = problem.message.partition('": ')
        assert problem.field in ("image", "link", "page", "chapter") and target and reason.strip()
        assert problem.line or problem.field in ("page", "chapter")
    # Index and summary pages open a chapter; none is a module of its own.
    for mod in tree.modules:
        stems = {tree.sources[(mod.id, lesson.slug)].stem.lower() for lesson in mod.lessons}
        assert not stems <= {"index", "readme", "sommaire", "summary"} or len(mod.lessons) == 1
        assert not mod.id.endswith("-accueil")
    # Chapters in natural order: "c2" before "c10", "2_…" before "10_…".
    assert ids == sorted(ids, key=natural_key)
    # Each image without a description is reported where it is written.
    for problem in tree.undescribed:
        line = Path(problem.path).read_text(encoding="utf-8").split("\n")[problem.line - 1]
        assert re.search(r"!\[\s*\]|<img(?![^>]*alt=\S)", line), (problem, line)


@pytest.mark.corpus
def test_the_missing_image_of_the_corpus_is_reported(corpus: Path) -> None:
    options = CourseOptions(country="fr", levels=["1re"], subject="nsi", licence="CC-BY-SA-4.0")

    tree = read_course(corpus / "glassus-nsi/premiere_nsi", french_curriculum(), options)

    swartz = [p for p in tree.skipped if "swartz.jpg" in p.message]
    assert len(swartz) == 1 and swartz[0].path.endswith("T7_Divers/5_Exposes/cours.md")
    assert swartz[0].line == 24 and swartz[0].message.endswith("no such file")
    lesson = module(tree, "t7-divers-5-exposes").lessons[0]
    assert "*image*" in lesson.texts["fr"].markdown
