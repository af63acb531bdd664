import os

# Quiet TensorFlow's start-up logging before any test imports it.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# With TensorFlow loaded in the same process, torch's OpenMP threads spin
# against TensorFlow's on small CPUs (a small matmul went from 50 us to
# 2.5 ms on 2 cores); passive waiting removes the contention.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
