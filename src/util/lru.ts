// lru-cache's get(key) makes a new `{}` for its options on every call that passes none (and writes
// a `status` field into it): on a per-packet path that is an object per packet. One options
// object, passed to every get, makes none.

/** The options of every LRUCache.get on a per-packet path: none. */
export const GET_DEFAULTS = {};
