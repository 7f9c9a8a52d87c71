"""What kind of device a PCI function is, for the generic PCI driver.

The PCI class code says most of it (its first two hex digits are the base
class, the next two the subclass):

==========  ==========================================  ========
class       what                                        type
==========  ==========================================  ========
03xx        display controller (VGA, 3D, other)         GPU
02xx        network controller (Ethernet, InfiniBand)   NIC
01xx        mass storage (NVMe 0108, SATA, SAS, RAID)   SSD
10xx        encryption controller                       QAT
12xx        processing accelerator                      AICHIP
anything    else                                        PCI
==========  ==========================================  ========

Two kinds have no class of their own, so the ids decide:

* FPGAs: every function of Xilinx (``10ee``) and Altera (``1172``), Intel's
  FPGA cards (PAC Arria 10 ``8086:09c4``, PAC N3000 ``8086:0b30``, PAC
  D5005 ``8086:0b2b``, OFS cards ``8086:bcce``), and Inspur's processing
  accelerators (``1bd4``, class 12: its FPGA cards) are ``FPGA``;
* Intel QAT reports the generic co-processor class (``0b40``), shared with
  devices that are not crypto engines (DLB), so a function is ``QAT`` by
  the QAT driver's id table.
"""

from cyborg.accelerator.drivers import intel_fpga
from cyborg.accelerator.drivers import intel_qat

FPGA_VENDORS = frozenset({'10ee', '1172'})
# The Intel FPGA cards intel_fpga_driver knows.
INTEL_FPGA_IDS = frozenset((intel_fpga.VENDOR_ID, product)
                           for product in intel_fpga.PRODUCTS)
INSPUR = '1bd4'
# (class prefix, device type), most specific first.
CLASS_TYPES = (
    ('03', 'GPU'),
    ('02', 'NIC'),
    ('01', 'SSD'),
    ('10', 'QAT'),
    ('12', 'AICHIP'),
)
DEFAULT_TYPE = 'PCI'


def device_type(function):
    """The inventory device type of a ``sysfs.PciFunction``."""
    if (function.vendor_id in FPGA_VENDORS
            or (function.vendor_id, function.product_id) in INTEL_FPGA_IDS
            or (function.vendor_id == INSPUR
                and function.class_code.startswith('12'))):
        return 'FPGA'
    if intel_qat.is_qat_function(function):
        return 'QAT'
    for prefix, kind in CLASS_TYPES:
        if function.class_code.startswith(prefix):
            return kind
    return DEFAULT_TYPE
