package io.egressd.cli;
