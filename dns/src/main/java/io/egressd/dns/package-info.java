package io.egressd.dns;
