/* A shared library that defines no malloc: preloading it must not count as an allocator. */
int mh_test_nomalloc_marker(void) { return 42; }
