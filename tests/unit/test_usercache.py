from bot.usercache import UserCache


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_a_profile_is_kept_for_the_ttl_then_read_again() -> None:
    clock = Clock()
    cache = UserCache(ttl_s=60, size=10, clock=clock)
    cache.put([{"id": "u1", "username": "ann"}])
    clock.t = 59.9
    assert cache.get("u1") == {"id": "u1", "username": "ann"}
    clock.t = 60.0
    assert cache.get("u1") is None
    assert len(cache) == 0


def test_the_least_recently_used_goes_first_when_full() -> None:
    cache = UserCache(ttl_s=60, size=2, clock=Clock())
    cache.put([{"id": "a"}, {"id": "b"}])
    assert cache.get("a") is not None  # a is now the most recent
    cache.put([{"id": "c"}])
    assert cache.get("b") is None
    assert cache.get("a") is not None and cache.get("c") is not None
    assert len(cache) == 2


def test_entries_without_an_id_are_ignored() -> None:
    cache = UserCache(clock=Clock())
    cache.put([{"username": "nobody"}, "junk"])  # type: ignore[list-item]
    assert len(cache) == 0
