"""SCORING_WORKERS: worker processes give byte-identical output, and failures stay contained."""

import os
import signal

import pytest

from csv_sentiment.engine import load_engine
from csv_sentiment.errors import TransientError
from csv_sentiment.workers import InProcess, ProcessPool, make_scorer
from tests.functional.s3_harness import Harness

# The handler forks its workers at cold start, before any thread exists; this test process
# already runs other tests' threads, which Python 3.12 warns about on every fork.
pytestmark = pytest.mark.filterwarnings("ignore:This process .* is multi-threaded")


@pytest.fixture
def pool():
    p = ProcessPool("fast", 2)
    yield p
    p.close()


def test_workers_give_byte_identical_output_on_the_corpus(s3, buckets, corpus_path, pool):
    data = corpus_path.read_bytes()
    single = Harness(s3, buckets, InProcess(load_engine("fast")))
    single.put("input/corpus.csv", data)
    single.process("input/corpus.csv", CHUNK_ROWS="500")
    expected = single.output("scored/corpus.csv")

    pooled = Harness(s3, buckets, pool)
    pooled.put("input/again.csv", data)
    report = pooled.process("input/again.csv", CHUNK_ROWS="500")
    assert report["rows"]["scored"] == 23_703
    assert pooled.output("scored/again.csv") == expected


def test_a_file_that_fails_midway_leaves_no_stale_scores_for_the_next(s3, buckets, pool):
    harness = Harness(s3, buckets, pool)
    bad = b"text\n" + b"good\n" * 5000 + b"a,b\n" + b"bad\n" * 5000
    harness.put("input/bad.csv", bad)
    report = harness.process("input/bad.csv", CHUNK_ROWS="100")
    assert report["error"]["code"] == "malformed_row"
    assert "line 5002" in report["error"]["message"]
    harness.put("input/next.csv", b"text\nI hate this\nI love this\n")
    harness.process("input/next.csv")
    rows = harness.rows("scored/next.csv")
    assert [r[-1] for r in rows[1:]] == ["negative", "positive"]


def test_a_dead_worker_is_a_transient_error_and_the_pool_reports_it(s3, buckets, pool):
    harness = Harness(s3, buckets, pool)
    harness.put("input/x.csv", b"text\n" + b"fine\n" * 10)
    victim = pool._pool[0].process
    os.kill(victim.pid, signal.SIGKILL)
    victim.join(5)
    assert not pool.healthy()
    with pytest.raises(TransientError, match="scoring worker process"):
        harness.process("input/x.csv")
    assert harness.listing() == []


def test_one_worker_scores_in_process():
    scorer = make_scorer("reference", 1)
    assert isinstance(scorer, InProcess) and scorer.workers == 0
