"""Three small tests whose JUnit report the README's `tests` check example reads."""


def test_addition() -> None:
    assert 1 + 1 == 2


def test_membership() -> None:
    assert "gate" in "gatepack"


def test_sorting() -> None:
    assert sorted([3, 1, 2]) == [1, 2, 3]
