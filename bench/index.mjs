// Benchmarks land with the benchmark issue; `npm run bench` is never part of `npm test`.
console.log("no benchmarks yet")
