"""The peers' side of `npm run bench -- peers` (bench/peers.bench.ts).

Usage: /usr/bin/python3 bench/peers/peers.py MANIFEST.json
       /usr/bin/python3 bench/peers/peers.py --memory implicit|unrolled K

Reads the workloads written by bench/peers.bench.ts (raw little-endian float64 arrays plus a JSON manifest), then
answers timing requests, one per line on stdin: {"name": workload, "lib": "torch" | "numpy", "warmup": seconds}.
Each answer is one JSON line on stdout: {seconds, check} from the same batch-median timer as bench/util.ts,
where `check` holds the values diffopt compares with its own; null when the library is not installed or has no
version of the workload; {"error": message} when it raised. The caller alternates these requests with its own
timings of the same workload, so that the ratios compare runs made under the same load. Every library runs on one thread (the caller
sets OMP/OPENBLAS_NUM_THREADS=1; torch.set_num_threads(1) here).

The computations mirror bench/peers/workloads.ts: the same algorithms and iteration counts, written the way a user
of each library would write them.
"""
import json
import os
import resource
import sys
import time

import numpy as np

try:
    import torch

    torch.set_num_threads(1)
except ImportError:  # the torch column stays empty
    torch = None

try:
    import scipy.linalg
    import scipy.sparse
    import scipy.sparse.linalg
except ImportError:
    scipy = None


# The clock of bench/peers.bench.ts: process CPU time ("cpu", every thread) or wall time ("wall").
CLOCK = time.process_time if os.environ.get("DIFFOPT_PEERS_CLOCK", "cpu") == "cpu" else time.perf_counter


def time_it(fn, min_time=0.3, min_batches=3, warmup=0.05):
    """Median seconds per call over batches of ~20 ms (bench/util.ts timeIt)."""
    calls, t0 = 0, CLOCK()
    while True:
        fn()
        calls += 1
        if CLOCK() - t0 >= warmup and calls >= 2:
            break
    per_call = (CLOCK() - t0) / calls
    batch = max(1, round(0.02 / per_call))
    samples, total = [], 0.0
    while total < min_time or len(samples) < min_batches:
        start = CLOCK()
        for _ in range(batch):
            fn()
        elapsed = CLOCK() - start
        total += elapsed
        samples.append(elapsed / batch)
    return float(np.median(samples))


def summary(a):
    a = np.asarray(a, dtype=np.float64).ravel()
    return [float(a.sum()), float(np.sqrt((a * a).sum())), float(a[0]), float(a[-1])]


def load(spec):
    return np.fromfile(spec["file"], dtype="<f8").reshape(spec["shape"])


# --- PyTorch versions ------------------------------------------------------------------------------------------


def torch_add(a, p):
    x, y = torch.from_numpy(a["x"]), torch.from_numpy(a["y"])
    # (values to check, what is timed): the op alone, as on diffopt's side
    return (lambda: torch.add(x, y).numpy().tolist(), lambda: torch.add(x, y))


def torch_mul_chain_grad(a, p):
    x0, ones = torch.from_numpy(a["x"]), torch.from_numpy(a["ones"])
    n = int(p["chain"])

    def run():
        x = x0.clone().requires_grad_(True)
        acc = x
        for _ in range(n):
            acc = acc * ones
        (g,) = torch.autograd.grad(acc.sum(), x)
        return g.numpy().tolist()

    return run


def torch_matmul(a, p):
    A, B = torch.from_numpy(a["A"]), torch.from_numpy(a["B"])
    return lambda: summary((A @ B).numpy())


def torch_lstsq_grad(a, p):
    X, y, w0 = (torch.from_numpy(a[k]) for k in ("X", "y", "w"))

    def run():
        w = w0.clone().requires_grad_(True)
        loss = 0.5 * ((X @ w - y) ** 2).sum()
        (g,) = torch.autograd.grad(loss, w)
        return g.numpy().tolist()

    return run


def torch_solve(a, p):
    A, b = torch.from_numpy(a["A"]), torch.from_numpy(a["b"])
    return lambda: torch.linalg.solve(A, b).numpy().tolist()


def poisson_apply_torch(m):
    def apply(v):
        x = v.reshape(m, m)
        out = 4 * x
        out[1:, :] -= x[:-1, :]
        out[:-1, :] -= x[1:, :]
        out[:, 1:] -= x[:, :-1]
        out[:, :-1] -= x[:, 1:]
        return out.reshape(-1)

    return apply


def cg_loop(apply, b, rtol, dot, norm):
    """Textbook CG from x = 0, stopping at ‖r‖ ≤ rtol·‖b‖ (the test of diffopt's linalg.cg)."""
    x = b * 0
    r = b.clone() if hasattr(b, "clone") else b.copy()
    p = r.clone() if hasattr(r, "clone") else r.copy()
    rr = dot(r, r)
    stop = rtol * norm(b)
    for _ in range(10 * b.shape[0]):
        if rr ** 0.5 <= stop:
            break
        Ap = apply(p)
        alpha = rr / dot(p, Ap)
        x = x + alpha * p
        r = r - alpha * Ap
        rr_new = dot(r, r)
        p = r + (rr_new / rr) * p
        rr = rr_new
    return x


def torch_poisson_cg(a, p):
    b = torch.from_numpy(a["b"])
    apply = poisson_apply_torch(int(p["m"]))
    return lambda: cg_loop(apply, b, p["rtol"], lambda u, v: float(u @ v), lambda u: float(u.norm())).numpy().tolist()


def ridge_torch(a, p):
    Xtr, ytr, Xval, yval = (torch.from_numpy(a[k]) for k in ("Xtr", "ytr", "Xval", "yval"))
    lam0 = torch.from_numpy(a["lam"])
    gram, xty = Xtr.T @ Xtr, Xtr.T @ ytr
    K, L = int(p["K"]), p["L"]

    def gd(lam):
        w = torch.zeros(gram.shape[0], dtype=torch.float64)
        for _ in range(K):
            w = w - (1 / L) * (gram @ w - xty + lam * w)
        return w

    def outer(w):
        return 0.5 * ((Xval @ w - yval) ** 2).sum()

    return gd, outer, gram, lam0


def torch_ridge_implicit(a, p):
    gd, outer, gram, lam0 = ridge_torch(a, p)
    eye = torch.eye(gram.shape[0], dtype=torch.float64)

    def run():
        with torch.no_grad():
            w = gd(lam0)
        w = w.requires_grad_(True)
        (g,) = torch.autograd.grad(outer(w), w)
        # ∂w/∂λ = −H⁻¹w with H = XᵀX + λI, so dL/dλ = −(H⁻¹g)ᵀw
        u = torch.linalg.solve(gram + lam0 * eye, g)
        return [float(-(u @ w.detach()))]

    return run


def torch_ridge_unrolled(a, p):
    gd, outer, _gram, lam0 = ridge_torch(a, p)

    def run():
        lam = lam0.clone().requires_grad_(True)
        (g,) = torch.autograd.grad(outer(gd(lam)), lam)
        return [float(g)]

    return run


def deq_torch(a, p):
    W0, x0, c = (torch.from_numpy(a[k]) for k in ("W", "x", "c"))
    iters = int(p["iters"])

    def iterate(W, x):
        z = torch.zeros(W.shape[0], dtype=torch.float64)
        for _ in range(iters):
            z = torch.tanh(W @ z + x)
        return z

    return W0, x0, c, iterate


def torch_deq_unrolled(a, p):
    W0, x0, c, iterate = deq_torch(a, p)

    def run():
        W, x = W0.clone().requires_grad_(True), x0.clone().requires_grad_(True)
        gW, gx = torch.autograd.grad((c * iterate(W, x)).sum(), (W, x))
        return summary(gW.numpy()) + summary(gx.numpy())

    return run


def torch_deq_implicit(a, p):
    W0, x0, c, iterate = deq_torch(a, p)
    eye = torch.eye(W0.shape[0], dtype=torch.float64)

    def run():
        with torch.no_grad():
            z = iterate(W0, x0)
            s = 1 - z * z  # tanh' at the fixed point
            # (I − ∂T/∂z)ᵀ u = c with ∂T/∂z = diag(s) W; then ∂/∂W = (s∘u) zᵀ, ∂/∂x = s∘u
            u = torch.linalg.solve((eye - s[:, None] * W0).T, c)
            su = s * u
            return summary(torch.outer(su, z).numpy()) + summary(su.numpy())

    return run


def svm_torch(a, p):
    """The multiclass SVM dual of paper/experiments/svm-hpo.ts: K projected-gradient steps on rows of simplices,
    with FISTA momentum and adaptive restart (diffopt's ProjectedGradient default)."""
    X, Y, Xv, Yv = (torch.from_numpy(a[k]) for k in ("X", "Y", "Xval", "Yval"))
    K, lmax = int(p["K"]), p["lmax"]
    k = Y.shape[1]
    ranks = torch.arange(1, k + 1, dtype=torch.float64)
    eta = 1 / lmax  # θ = exp(0) = 1: step θ/λ_max, a constant of the derivative

    def proj_simplex(V):  # Euclidean projection of each row onto the simplex (sort and threshold)
        U, _ = torch.sort(V, dim=1, descending=True)
        css = U.cumsum(1) - 1
        rho = (U - css / ranks > 0).sum(1, keepdim=True)
        return torch.clamp(V - css.gather(1, rho - 1) / rho, min=0)

    def T(beta, theta):  # the projected-gradient step of f(β) = ‖Xᵀ(Y − β)‖²/2θ + ⟨β, Y⟩
        return proj_simplex(beta - eta * (Y - X @ (X.T @ (Y - beta)) / theta))

    def solve(theta):
        x = y = torch.full_like(Y, 1 / k)
        t = 1.0
        for _ in range(K):
            nxt = T(y, theta)
            # restart when the step points against the last move (on plain values, as in diffopt)
            against = float(((y - nxt).detach() * (nxt - x).detach()).sum()) > 0
            t_next = 1.0 if against else (1 + (1 + 4 * t * t) ** 0.5) / 2
            y = nxt if against else nxt + ((t - 1) / t_next) * (nxt - x)
            x, t = nxt, t_next
        return x

    def outer(beta, theta):
        return 0.5 * ((Xv @ (X.T @ (Y - beta) / theta) - Yv) ** 2).sum()

    return T, solve, outer


def torch_svm_unrolled(a, p):
    _T, solve, outer = svm_torch(a, p)

    def run():
        lam = torch.zeros((), dtype=torch.float64, requires_grad=True)
        theta = torch.exp(lam)
        (g,) = torch.autograd.grad(outer(solve(theta), theta), lam)
        return [float(g)]

    return run


def torch_svm_implicit(a, p):
    T, solve, outer = svm_torch(a, p)
    theta0 = torch.ones((), dtype=torch.float64)

    def run():
        with torch.no_grad():
            beta = solve(theta0)
        n = beta.numel()
        # (I − ∂T/∂β)ᵀ u = ∂L/∂β at the fixed point, then dL/dθ = ∂L/∂θ + uᵀ ∂T/∂θ, and dL/dλ = θ dL/dθ
        J = torch.autograd.functional.jacobian(lambda b: T(b, theta0), beta, vectorize=True).reshape(n, n)
        b = beta.clone().requires_grad_(True)
        theta = theta0.clone().requires_grad_(True)
        gb, gt = torch.autograd.grad(outer(b, theta), (b, theta))
        u = torch.linalg.solve((torch.eye(n, dtype=torch.float64) - J).T, gb.reshape(n))
        theta = theta0.clone().requires_grad_(True)
        (dT,) = torch.autograd.grad(T(beta, theta), theta, grad_outputs=u.reshape(beta.shape))
        return [float(theta0 * (gt + dT))]

    return run


# --- NumPy / SciPy versions (no autodiff: derivatives written by hand where a workload needs them) --------------


def np_add(a, p):
    x, y = a["x"], a["y"]
    return (lambda: np.add(x, y).tolist(), lambda: np.add(x, y))


def np_matmul(a, p):
    A, B = a["A"], a["B"]
    return lambda: summary(A @ B)


def np_lstsq_grad(a, p):
    X, y, w = a["X"], a["y"], a["w"]
    return lambda: (X.T @ (X @ w - y)).tolist()


def np_solve(a, p):
    A, b = a["A"], a["b"]
    return lambda: scipy.linalg.solve(A, b).tolist()


def np_poisson_cg(a, p):
    m = int(p["m"])
    t = scipy.sparse.diags([-1, 2, -1], [-1, 0, 1], shape=(m, m))
    eye = scipy.sparse.identity(m)
    A = (scipy.sparse.kron(t, eye) + scipy.sparse.kron(eye, t)).tocsr()
    b = a["b"]

    def run():
        try:
            x, info = scipy.sparse.linalg.cg(A, b, rtol=p["rtol"], atol=0.0, maxiter=10 * b.shape[0])
        except TypeError:  # SciPy < 1.12 calls it tol
            x, info = scipy.sparse.linalg.cg(A, b, tol=p["rtol"], atol=0.0, maxiter=10 * b.shape[0])
        return x.tolist()

    return run


def np_ridge_implicit(a, p):
    Xtr, ytr, Xval, yval, lam = (a[k] for k in ("Xtr", "ytr", "Xval", "yval", "lam"))
    lam = float(lam)
    gram, xty = Xtr.T @ Xtr, Xtr.T @ ytr
    K, L = int(p["K"]), p["L"]

    def run():
        w = np.zeros(gram.shape[0])
        for _ in range(K):
            w = w - (1 / L) * (gram @ w - xty + lam * w)
        g = Xval.T @ (Xval @ w - yval)
        u = scipy.linalg.solve(gram + lam * np.eye(gram.shape[0]), g, assume_a="pos")
        return [float(-(u @ w))]

    return run


def np_deq_implicit(a, p):
    W, x, c = a["W"], a["x"], a["c"]
    iters = int(p["iters"])

    def run():
        z = np.zeros(W.shape[0])
        for _ in range(iters):
            z = np.tanh(W @ z + x)
        s = 1 - z * z
        u = scipy.linalg.solve((np.eye(W.shape[0]) - s[:, None] * W).T, c)
        su = s * u
        return summary(np.outer(su, z)) + summary(su)

    return run


TORCH = {
    "add": torch_add,
    "mul_chain_grad": torch_mul_chain_grad,
    "matmul": torch_matmul,
    "lstsq_grad": torch_lstsq_grad,
    "solve": torch_solve,
    "poisson_cg": torch_poisson_cg,
    "ridge_implicit": torch_ridge_implicit,
    "ridge_unrolled": torch_ridge_unrolled,
    "deq_implicit": torch_deq_implicit,
    "deq_unrolled": torch_deq_unrolled,
    "svm_implicit": torch_svm_implicit,
    "svm_unrolled": torch_svm_unrolled,
}
NUMPY = {
    "add": np_add,
    "matmul": np_matmul,
    "lstsq_grad": np_lstsq_grad,
    "solve": np_solve,
    "poisson_cg": np_poisson_cg,
    "ridge_implicit": np_ridge_implicit,
    "deq_implicit": np_deq_implicit,
}
SLOW = {
    "matmul": lambda p: p.get("n", 0) >= 1024,
    "ridge_unrolled": lambda p: p.get("K", 0) >= 10000,
    "svm_implicit": lambda p: True,
    "svm_unrolled": lambda p: True,
}


def serve(path):
    """Answers the timing requests on stdin (see the module comment), making each workload's function once."""
    workloads = {w["name"]: w for w in json.load(open(path))}
    libraries = {"torch": (TORCH, torch is not None), "numpy": (NUMPY, scipy is not None)}
    made = {}
    for line in sys.stdin:
        request = json.loads(line)
        w = workloads[request["name"]]
        table, available = libraries[request["lib"]]
        answer = None
        if available and w["kind"] in table:
            try:
                key = (w["name"], request["lib"])
                if key not in made:
                    arrays = {k: load(spec) for k, spec in w["arrays"].items()}
                    maker = table[w["kind"]](arrays, w["params"])
                    check_fn, fn = maker if isinstance(maker, tuple) else (maker, maker)
                    made[key] = (fn, [float(v) for v in check_fn()])
                fn, check = made[key]
                min_time = 1.0 if SLOW.get(w["kind"], lambda _p: False)(w["params"]) else 0.3
                warmup = float(request.get("warmup", 0.05))
                answer = {"seconds": time_it(fn, min_time=min_time, warmup=warmup), "check": check}
            except Exception as e:  # reported in the table, never hidden
                answer = {"error": f"{type(e).__name__}: {e}"}
        print(json.dumps(answer), flush=True)


def memory(mode, K):
    """Peak RSS (MB) of one PyTorch ridge hypergradient with K inner steps on random data of the diabetes size."""
    rng = np.random.default_rng(0)
    a = {
        "Xtr": rng.standard_normal((300, 10)) / 17,
        "ytr": rng.standard_normal(300),
        "Xval": rng.standard_normal((142, 10)) / 12,
        "yval": rng.standard_normal(142),
        "lam": np.array(0.05),
    }
    L = float(np.linalg.eigvalsh(a["Xtr"].T @ a["Xtr"]).max() + 0.05)
    maker = torch_ridge_implicit if mode == "implicit" else torch_ridge_unrolled
    maker(a, {"K": K, "L": L})()
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


if __name__ == "__main__":
    if sys.argv[1] == "--memory":
        memory(sys.argv[2], int(sys.argv[3]))
    else:
        serve(sys.argv[1])
