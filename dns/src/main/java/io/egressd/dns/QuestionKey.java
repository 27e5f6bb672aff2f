package io.egressd.dns;

/** What the cache and the in-flight table are keyed by: a canonical (lower-case, no final dot) name, a type and a class. */
record QuestionKey(String name, int type, int dclass) { }
