//! Nothing here: the benchmarks are the `[[bench]]` targets beside this file.
