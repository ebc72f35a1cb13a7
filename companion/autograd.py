"""A scalar autograd engine: backpropagation in a few dozen lines (after
karpathy/micrograd).

A `Value` holds one number and remembers how it was computed. `backward()`
walks that record from the output back to the inputs and applies the chain
rule at every step, so each `Value` ends up with `.grad`, the derivative of
the output with respect to it.

Used in: book/01_learning.ipynb
"""
import math


class Value:
    """One scalar in a computation graph, with its gradient `.grad` after
    `backward()`."""

    def __init__(self, data, children=(), op=""):
        self.data = float(data)
        self.grad = 0.0
        self._children = children     # the Values this one was computed from
        self._op = op                 # how: "+", "*", "tanh", ... ("" input)
        self._backward = lambda: None  # adds grad into the children's grads

    def __repr__(self):
        return f"Value(data={self.data:.6g}, grad={self.grad:.6g})"

    # ------------------------------------------------------------ operations
    # Each one computes the result and a `_backward` that knows the local
    # derivative: child.grad += (d out / d child) * out.grad (the chain
    # rule; += because a Value used twice gets gradient from both uses).

    def __add__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data + other.data, (self, other), "+")

        def _backward():
            self.grad += out.grad                  # d(a + b)/da = 1
            other.grad += out.grad                 # d(a + b)/db = 1
        out._backward = _backward
        return out

    def __mul__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data * other.data, (self, other), "*")

        def _backward():
            self.grad += other.data * out.grad     # d(a b)/da = b
            other.grad += self.data * out.grad     # d(a b)/db = a
        out._backward = _backward
        return out

    def __pow__(self, exponent):
        if not isinstance(exponent, (int, float)):
            raise ValueError(f"Value ** exponent needs a number exponent; "
                             f"got {type(exponent).__name__}")
        out = Value(self.data ** exponent, (self,), f"**{exponent}")

        def _backward():                           # n a^(n-1)
            self.grad += exponent * self.data ** (exponent - 1) * out.grad
        out._backward = _backward
        return out

    def exp(self):
        out = Value(math.exp(self.data), (self,), "exp")

        def _backward():
            self.grad += out.data * out.grad       # d e^a/da = e^a
        out._backward = _backward
        return out

    def log(self):
        if self.data <= 0:
            raise ValueError(f"Value.log needs a positive number; "
                             f"got {self.data}")
        out = Value(math.log(self.data), (self,), "log")

        def _backward():
            self.grad += out.grad / self.data      # d log(a)/da = 1/a
        out._backward = _backward
        return out

    def tanh(self):
        out = Value(math.tanh(self.data), (self,), "tanh")

        def _backward():
            self.grad += (1.0 - out.data ** 2) * out.grad   # 1 - tanh²(a)
        out._backward = _backward
        return out

    def relu(self):
        out = Value(max(self.data, 0.0), (self,), "relu")

        def _backward():
            self.grad += (self.data > 0) * out.grad   # 1 for a > 0, else 0
        out._backward = _backward
        return out

    # Everything else is built from the operations above.
    def __neg__(self):
        return self * -1

    def __sub__(self, other):
        return self + (-other)

    def __truediv__(self, other):
        if isinstance(other, Value):
            return self * other ** -1
        return self * (1.0 / other)

    def __radd__(self, other):      # other + self, e.g. sum() starting at 0
        return self + other

    def __rmul__(self, other):      # other * self
        return self * other

    def __rsub__(self, other):      # other - self
        return Value(other) - self

    def __rtruediv__(self, other):  # other / self
        return Value(other) * self ** -1

    # ------------------------------------------------------- backpropagation
    def backward(self):
        """Fill `.grad` of every Value this one depends on with
        d(self)/d(that Value)."""
        order, seen = [], set()

        def visit(node):            # topological: children before parents
            if id(node) not in seen:
                seen.add(id(node))
                for child in node._children:
                    visit(child)
                order.append(node)
        visit(self)
        for node in order:
            node.grad = 0.0
        self.grad = 1.0             # d(self)/d(self)
        for node in reversed(order):   # from the output back to the inputs
            node._backward()


def values(numbers):
    """Nested lists of Values from a tensor or nested lists of numbers
    (weights as Values)."""
    if hasattr(numbers, "tolist"):
        numbers = numbers.tolist()
    if isinstance(numbers, (list, tuple)):
        return [values(item) for item in numbers]
    return Value(numbers)


def linear(x, weight, bias):
    """y_j = sum_i weight[j][i] x[i] + bias[j], for lists of Values
    (nn.Linear's layout)."""
    return [sum((w * xi for w, xi in zip(row, x)), b)
            for row, b in zip(weight, bias)]


def cross_entropy(logits, target):
    """-log softmax(logits)[target] for a list of Values, via log-sum-exp
    (stable)."""
    shift = max(z.data for z in logits)   # a constant: it cancels, and
    log_sum_exp = sum((z - shift).exp() for z in logits).log() + shift
    return log_sum_exp - logits[target]   # ... keeps exp() finite
