"""LIBSVM reading: 1-based by default, 0-based on request, an index 0 is an
error naming its line, memory checked before densifying, and wide files
never build d x d (let alone n x d x d) arrays."""
import numpy as np
import pytest

from shiftbench.naive import problems as ref
from shiftbench.problems import load_libsvm, make


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SHIFTBENCH_CACHE", str(tmp_path / "cache"))


def _write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_one_based_by_default(tmp_path):
    f = _write(tmp_path, "a.txt", "1 1:0.5 3:1\n-1 2:2\n")
    d = load_libsvm(f)
    assert d.X.shape == (2, 3)
    assert np.array_equal(d.X, [[0.5, 0, 1], [0, 2, 0]])


def test_index_zero_is_an_error_naming_the_line(tmp_path):
    f = _write(tmp_path, "z.txt", "1 1:0.5 2:1\n# a comment\n-1 0:1 3:2\n1 2:1\n")
    with pytest.raises(ValueError) as e:
        load_libsvm(f)
    msg = str(e.value)
    assert "\n" not in msg and str(f) in msg
    assert "feature index 0 on line 3" in msg and "1-based" in msg and "zero_based" in msg
    with pytest.raises(ValueError, match="line 3"):
        make(f"logreg(data={f}, n=2)")


def test_zero_based_option(tmp_path):
    f = _write(tmp_path, "z.txt", "1 0:0.5 2:1\n-1 1:2\n")
    d = load_libsvm(f, zero_based=True)
    assert d.X.shape == (2, 3)
    assert np.array_equal(d.X, [[0.5, 0, 1], [0, 2, 0]])
    # the same file read 1-based: index 0 is an error (not a silent switch)
    with pytest.raises(ValueError, match="line 1"):
        load_libsvm(f)
    p = make(f"logreg-nc(data={f}, zero_based=1, n=2)")
    assert p.d == 3 and "zero_based=1" in p.name
    # a 1-based file read 0-based keeps an empty column 0: the caller asked for it
    g = _write(tmp_path, "o.txt", "1 1:0.5\n-1 2:2\n")
    assert load_libsvm(g, zero_based=True).X.shape == (2, 3)
    assert load_libsvm(g).X.shape == (2, 2)


def test_cache_keeps_the_index_base_apart(tmp_path):
    f = _write(tmp_path, "c.txt", "1 1:0.5 2:1\n-1 2:2\n")
    a = load_libsvm(f)
    b = load_libsvm(f, zero_based=True)
    assert a.X.shape == (2, 2) and b.X.shape == (2, 3)
    assert load_libsvm(f).X.shape == (2, 2)                  # from the cache


def test_memory_checked_before_densifying(tmp_path, monkeypatch):
    f = _write(tmp_path, "w.txt", "1 1:1 200000:1\n-1 2:1\n")
    monkeypatch.setenv("SHIFTBENCH_MEMORY_LIMIT", "1e6")
    with pytest.raises(ValueError) as e:
        load_libsvm(f)
    msg = str(e.value)
    assert "\n" not in msg and str(f) in msg
    assert "dense data matrix 2 x 200000" in msg and "3.05 MiB" in msg


def test_wide_file_builds_without_d_by_d(tmp_path, monkeypatch):
    """A feature index of 200,000 once allocated n x d x d (596 GiB): now the
    constants come from the N_i x N_i Gram matrices and x* from Woodbury."""
    rng = np.random.default_rng(0)
    lines = []
    for j in range(12):
        feats = sorted(set(rng.integers(1, 200001, size=5).tolist()) | {1 + j % 3, 200000})
        lines.append(f"{1 if j % 2 else -1} " + " ".join(f"{k}:{rng.standard_normal():.4f}"
                                                       for k in feats))
    f = _write(tmp_path, "wide.txt", "\n".join(lines) + "\n")
    # far less memory than one d x d matrix (320 GB), far more than the data (19 MB)
    monkeypatch.setenv("SHIFTBENCH_MEMORY_LIMIT", "2e8")
    p = make(f"logreg(data={f}, n=3, lam=0.1)")
    assert p.d == 200000 and p.n == 3
    for i in range(p.n):                                      # L_i from the small Gram
        Ai = p.A[p.offsets[i]:p.offsets[i + 1]]
        ev = np.linalg.eigvalsh(Ai @ Ai.T)[-1]
        assert p.L_i[i] == pytest.approx(ev / (4 * Ai.shape[0]) + 0.1, rel=1e-12)
    B = p.A / np.sqrt(4 * p.n * np.repeat(np.diff(p.offsets), np.diff(p.offsets)))[:, None]
    assert p.L == pytest.approx(np.linalg.eigvalsh(B @ B.T)[-1] + 0.1, rel=1e-12)
    assert np.linalg.norm(p.grad(p.x_star)) < 1e-12          # Newton via Woodbury
    x = 0.01 * rng.standard_normal(p.d)
    assert np.allclose(p.grad(x), ref.grad(p, x), rtol=1e-10, atol=1e-14)
