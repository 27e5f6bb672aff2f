package io.egressd.bench;
