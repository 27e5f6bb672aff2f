package io.egressd.proxy;
