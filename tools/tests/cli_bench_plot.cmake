# tools/bench/plot.py on the committed results (docs/results/performance.json): the table pairs each
# zs-fast optimizer with its torch peers and a ratio, and compares ZeRO with FSDP at each W. Needs a
# Python 3 interpreter (the benchmark itself runs on the device machine); skipped without one.
find_package(Python3 COMPONENTS Interpreter QUIET)
if(Python3_Interpreter_FOUND)
  set(PLOT ${Python3_EXECUTABLE} ${PROJECT_SOURCE_DIR}/tools/bench/plot.py
      --results ${PROJECT_SOURCE_DIR}/docs/results/performance.json)
  zs_add_cli_test(bench.plot_optimizer_pairs STATUS zero
    REGEX "^  vs torch AdamW fused +28 +[0-9.]+ +[0-9]+ +[0-9.]+ +[0-9.]+x$" COMMAND ${PLOT})
  zs_add_cli_test(bench.plot_zero_vs_fsdp STATUS zero
    REGEX "^  zs-fast ZeRO-3 vs FSDP FULL_SHARD at W=1 +[0-9.]+x$" COMMAND ${PLOT})
endif()
