package io.egressd.dns;

/** What the cache and the in-flight table are keyed by: a canonical (lower-case, no final dot) name, a type and a class. */
record QuestionKey(String name, int type, int dclass) {

    // Written out: a record's generated equals and hashCode go through method handles, which the
    // shipped C1-only JIT does not inline (about 7% of the DNS filter's CPU in perf for these keys).
    @Override
    public boolean equals(Object o) {
        return o instanceof QuestionKey k && k.type == type && k.dclass == dclass && k.name.equals(name);
    }

    @Override
    public int hashCode() {
        return (name.hashCode() * 31 + type) * 31 + dclass;
    }
}
