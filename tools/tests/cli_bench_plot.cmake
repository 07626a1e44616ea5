# tools/bench/plot.py on the committed results (docs/results/performance.json): the table pairs each
# zs-fast optimizer with its torch peers and a ratio, each training step with torch.compile's, and
# compares ZeRO with FSDP at each W. Needs a
# Python 3 interpreter (the benchmark itself runs on the device machine); skipped without one.
find_package(Python3 COMPONENTS Interpreter QUIET)
if(Python3_Interpreter_FOUND)
  set(PLOT ${Python3_EXECUTABLE} ${PROJECT_SOURCE_DIR}/tools/bench/plot.py
      --results ${PROJECT_SOURCE_DIR}/docs/results/performance.json)
  zs_add_cli_test(bench.plot_optimizer_pairs STATUS zero
    REGEX "^  vs torch AdamW fused +28 +[0-9.]+ +[0-9]+ +[0-9.]+ +[0-9.]+x$" COMMAND ${PLOT})
  # each step row against torch.compile in bf16 and in its own precision (fp16's peer: compile fp16)
  zs_add_cli_test(bench.plot_step_vs_compile STATUS zero
    REGEX "^zs-fast engine bf16 .* +[0-9.]+x +[0-9.]+x$" COMMAND ${PLOT})
  zs_add_cli_test(bench.plot_zero_vs_fsdp STATUS zero
    REGEX "^  zs-fast ZeRO-3 vs FSDP FULL_SHARD at W=1 +[0-9.]+x$" COMMAND ${PLOT})
endif()
