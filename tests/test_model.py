"""Model-based sequences (issue 10): seeded random sequences of file
operations on shares — make, rename, delete, swap the printer, edit who
may print, allow everyone, print — run against the real mount and, side
by side, against a model of what the service must then hold. After every
few steps the mount and the emulator must both equal the model; refused
steps (an unknown user, a name taken) must change nothing.

UPFS_MODEL_SEQUENCES sets how many sequences (default 5; the long run of
tools/check uses 1000), UPFS_MODEL_STEPS their length (default 50).
A failing sequence prints its seed and steps; REGRESSION_SEEDS keeps
seeds that once failed, and always runs them."""

import errno
import os
import random

import pytest

import util

SEQUENCES = int(os.environ.get("UPFS_MODEL_SEQUENCES", "5"))
STEPS = int(os.environ.get("UPFS_MODEL_STEPS", "50"))
REGRESSION_SEEDS = []
USERS = ["alice", "bob", "carol", "dave", "erin"]
# Printers of their own: a printer has at most one share (reference §2.5).
PRINTERS = ["Model P%d" % i for i in range(1, 7)]
CHECK_EVERY = 5


class Model:
    """The shares this test made: name -> {printer, users, all}."""

    def __init__(self):
        self.shares = {}
        self.printed = 0

    def names(self):
        return sorted(self.shares)


def upn(user):
    return "%s@contoso.com" % user


class Runner:
    def __init__(self, emu, mount, workdir, rnd):
        self.emu, self.mount, self.workdir, self.rnd = emu, mount, workdir, rnd
        self.model = Model()
        self.steps = []
        self.serial = 0

    def p(self, *parts):
        return self.mount.p("shares", *parts)

    # --- steps: each does it on the mount and in the model ------------------

    def free_printers(self):
        used = {s["printer"] for s in self.model.shares.values()}
        return [p for p in PRINTERS if p not in used]

    def make(self):
        if not self.free_printers():
            return self.shared_printer()
        self.serial += 1
        name = "M%d" % self.serial
        printer = self.rnd.choice(self.free_printers())
        os.mkdir(self.p(name))
        os.symlink("../../printers/" + printer, self.p(name, "printer"))
        self.model.shares[name] = {"printer": printer, "users": set(),
                                   "all": False}
        return "make %s on %s" % (name, printer)

    def pick(self):
        return self.rnd.choice(self.model.names())

    def rename(self):
        old = self.pick()
        self.serial += 1
        new = "M%d" % self.serial
        os.rename(self.p(old), self.p(new))
        self.model.shares[new] = self.model.shares.pop(old)
        return "mv %s %s" % (old, new)

    def rename_taken(self):
        a, b = self.rnd.sample(self.model.names(), 2)
        self.mount.expect_warning(r"renaming the share refused")
        util.expect_errno(lambda: os.rename(self.p(a), self.p(b)),
                          errno.EEXIST)
        return "mv %s %s (taken)" % (a, b)

    def delete(self):
        name = self.pick()
        os.rmdir(self.p(name))
        del self.model.shares[name]
        return "rmdir " + name

    def shared_printer(self):
        """A share on a printer that has one already: refused."""
        self.serial += 1
        name = "M%d" % self.serial
        taken = self.model.shares[self.pick()]["printer"]
        os.mkdir(self.p(name))
        self.mount.expect_warning(r"creating the share refused: .*already "
                                  r"shared")
        util.expect_errno(lambda: os.symlink("../../printers/" + taken,
                                             self.p(name, "printer")),
                          errno.EINVAL, errno.EEXIST)
        os.rmdir(self.p(name))
        return "make %s on %s (already shared)" % (name, taken)

    def swap(self):
        if not self.free_printers():
            return self.shared_printer()
        name = self.pick()
        printer = self.rnd.choice(self.free_printers())
        tmp = self.p(name, ".printer.tmp")
        os.symlink("../../printers/" + printer, tmp)
        os.rename(tmp, self.p(name, "printer"))
        self.model.shares[name]["printer"] = printer
        return "ln -sfn %s %s" % (printer, name)

    def add_user(self):
        name, user = self.pick(), self.rnd.choice(USERS)
        with open(self.p(name, "allowed_users"), "a") as fh:
            fh.write(upn(user) + "\n")
        self.model.shares[name]["users"].add(user)
        return "+%s %s" % (user, name)

    def remove_user(self):
        name = self.pick()
        users = self.model.shares[name]["users"]
        if not users:
            return self.add_user()
        user = self.rnd.choice(sorted(users))
        util.run(["sed", "-i", "/^%s@/d" % user, "allowed_users"],
                 cwd=self.p(name))
        users.discard(user)
        return "-%s %s" % (user, name)

    def unknown_user(self):
        name = self.pick()
        path = self.p(name, "allowed_users")
        self.mount.expect_warning(r"allowed_users of share .* refused: "
                                  r"unknown user")
        fh = open(path, "a")
        fh.write("nobody-%d@contoso.com\n" % self.rnd.randrange(10 ** 6))
        util.expect_errno(fh.close, errno.EINVAL)
        return "+unknown %s (refused)" % name

    def allow_all(self):
        name = self.pick()
        value = self.rnd.choice([True, False])
        with open(self.p(name, "allow_all_users"), "w") as fh:
            fh.write("true\n" if value else "false\n")
        self.model.shares[name]["all"] = value
        return "allow_all %s %s" % (name, value)

    def print_doc(self):
        name = self.pick()
        self.serial += 1
        doc = os.path.join(self.workdir, "m-%d.pdf" % self.serial)
        with open(doc, "wb") as fh:
            fh.write(b"%PDF-1.4\n%model " + str(self.serial).encode() +
                     b"\n%%EOF\n")
        util.run(["cp", doc, self.p(name, "queue", "m-%d.pdf" %
                                    self.serial)])
        self.model.printed += 1
        return "print to " + name

    # --- the comparison ------------------------------------------------------

    def check(self):
        made = {s["displayName"]: s for s in
                self.emu.state(only=["shares", "printers"])["shares"]
                if s["displayName"].startswith("M")}
        printers = {p["id"]: p["displayName"] for p in
                    self.emu.state(only=["printers"])["printers"]}
        assert sorted(made) == self.model.names(), "service"
        listed = sorted(n for n in os.listdir(self.mount.p("shares"))
                        if n.startswith("M"))
        assert listed == self.model.names(), "mount listing"
        for name, want in self.model.shares.items():
            got = made[name]
            assert printers[got["printerId"]] == want["printer"], name
            assert sorted(u["userPrincipalName"] for u in
                          got["allowedUsers"]) == \
                sorted(upn(u) for u in want["users"]), name
            assert got["allowAllUsers"] is want["all"], name
            text = util.read_text(self.p(name, "allowed_users"))
            assert text == "".join(upn(u) + "\n"
                                   for u in sorted(want["users"])), name
            assert util.read_text(self.p(name, "allow_all_users")) == \
                ("true\n" if want["all"] else "false\n"), name
            assert os.readlink(self.p(name, "printer")) == \
                "../../printers/" + want["printer"], name

    def step(self):
        n = len(self.model.shares)
        choices = [self.make] * (3 if n < 3 else 1)
        if n:
            choices += [self.add_user, self.add_user, self.remove_user,
                        self.allow_all, self.swap, self.rename,
                        self.unknown_user, self.print_doc, self.delete]
        if n >= 2:
            choices.append(self.rename_taken)
        self.steps.append(self.rnd.choice(choices)())


SEEDS = sorted(set(REGRESSION_SEEDS) | set(range(1, SEQUENCES + 1)))


@pytest.mark.parametrize("seed", SEEDS)
def test_sequence_matches_the_model(emulator, upfs_mount, workdir, seed):
    for printer in PRINTERS:
        emulator.add_printer(displayName=printer)
    mount = upfs_mount(emulator, options=["dir_ttl=1"])
    run = Runner(emulator, mount, workdir, random.Random(seed))
    try:
        for i in range(STEPS):
            run.step()
            if (i + 1) % CHECK_EVERY == 0:
                run.check()
        run.check()
    except BaseException:
        print("seed %d, steps:\n  %s" % (seed, "\n  ".join(run.steps)))
        raise
    printed = [j for j in emulator.jobs() if j["documentName"].startswith(
        "m-")]
    assert len(printed) == run.model.printed
