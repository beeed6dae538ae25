"""Property tests: mangled versions of the real outputs (truncated, lines shuffled, re-indented,
tabs and spaces swapped, CRLF line ends, random text) never make an IOS parser raise, `recognized`
stays a bool and the result still fits the parser's SCHEMA."""

import importlib
import os

from hypothesis import HealthCheck, given, settings, strategies as st

from guestagent import ios
from tests.test_ios_schemas import conforms, embedded_files, fixture_files

CASES = fixture_files() + embedded_files()
TEXTS = [(kind, open(path).read(), os.path.basename(path)) for kind, path in CASES]
IOS_KINDS = sorted(k for k in ios.PARSERS if not k.startswith("linux-"))

SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def check(kind, text):
    module = importlib.import_module(ios.PARSERS[kind])
    result = module.parse(text)
    assert isinstance(result, dict)
    assert isinstance(result["recognized"], bool)
    assert conforms(result, module.SCHEMA) == []
    return result


case = st.sampled_from(TEXTS)


@SETTINGS
@given(case, st.floats(min_value=0, max_value=1))
def test_truncated(item, fraction):
    kind, text, _ = item
    check(kind, text[:int(len(text) * fraction)])


@SETTINGS
@given(case, st.randoms(use_true_random=False))
def test_shuffled_lines(item, rnd):
    kind, text, _ = item
    lines = text.splitlines()
    rnd.shuffle(lines)
    check(kind, "\n".join(lines))


@SETTINGS
@given(case, st.lists(st.sampled_from(["", " ", "  ", "\t", "    ", "\t\t", " \t"]),
                      min_size=1, max_size=8))
def test_reindented(item, indents):
    kind, text, _ = item
    lines = text.splitlines()
    out = [indents[i % len(indents)] + line.strip() for i, line in enumerate(lines)]
    check(kind, "\n".join(out))


@SETTINGS
@given(case, st.sampled_from(["tabs-to-spaces", "spaces-to-tabs", "swap"]))
def test_tabs_and_spaces_swapped(item, how):
    kind, text, _ = item
    if how == "tabs-to-spaces":
        text = text.replace("\t", " ")
    elif how == "spaces-to-tabs":
        text = text.replace(" ", "\t")
    else:
        text = text.replace("\t", "\0").replace(" ", "\t").replace("\0", " ")
    check(kind, text)


def test_crlf_and_cr_line_ends_read_the_same():
    for kind, text, name in TEXTS:
        plain = check(kind, text.replace("\r\n", "\n"))
        assert check(kind, text.replace("\r\n", "\n").replace("\n", "\r\n")) == plain, name
        assert check(kind, text.replace("\r\n", "\n").replace("\n", "\r")) == plain, name


@SETTINGS
@given(st.sampled_from(IOS_KINDS), st.text(max_size=400))
def test_random_text(kind, text):
    check(kind, text)


@SETTINGS
@given(st.sampled_from(IOS_KINDS), case, case, st.integers(min_value=0, max_value=400))
def test_spliced_outputs(kind, first, second, cut):
    # Half of one command's output glued to another's: the kind of mess a cut session leaves.
    check(kind, first[1][:cut] + second[1][cut:])


ALL_LINES = sorted(set(line for _, text, _ in TEXTS for line in text.splitlines()))


@SETTINGS
@given(st.sampled_from(IOS_KINDS),
       st.lists(st.one_of(st.sampled_from(ALL_LINES), st.text(max_size=40)), max_size=40))
def test_any_mix_of_real_lines(kind, lines):
    # Lines of every command in any order, with noise: what a parser sees when handed the wrong
    # command's output or a garbled session.
    check(kind, "\n".join(lines))
