"""The host wing: what this machine can do (checks), its running VMs, QEMU command lines.

Plain Python: never imports textual or rich.
"""
