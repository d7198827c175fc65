"""Small OFD packages built in code, and the provider our tests sign as.

Many OFD tests need a real but minimal document to seal, tamper with or verify; this is
the one every module builds, so a change to the OFD writer is tested on the same input."""

from __future__ import annotations

from ofd.package import OfdPackage
from ofd.signatures import Provider

PROVIDER = Provider("sealsvc", "0.1.0", "sealsvc")


NS = 'xmlns:ofd="http://www.ofdspec.org/2016"'


def unsigned_ofd(pages: int = 2) -> OfdPackage:
    """A small unsigned OFD: OFD.xml, Document.xml, page contents and one resource."""
    page_list = "".join(
        f'<ofd:Page ID="{10 + i}" BaseLoc="Pages/Page_{i}/Content.xml"/>' for i in range(pages)
    )
    files = {
        "OFD.xml": (
            f'<?xml version="1.0" encoding="UTF-8"?><ofd:OFD {NS} DocType="OFD" Version="1.1">'
            "<ofd:DocBody><ofd:DocInfo><ofd:DocID>d41d8cd98f00b204e9800998ecf8427e</ofd:DocID>"
            "</ofd:DocInfo><ofd:DocRoot>Doc_0/Document.xml</ofd:DocRoot></ofd:DocBody></ofd:OFD>"
        ).encode(),
        "Doc_0/Document.xml": (
            f'<?xml version="1.0" encoding="UTF-8"?><ofd:Document {NS}><ofd:CommonData>'
            "<ofd:MaxUnitID>20</ofd:MaxUnitID><ofd:PageArea><ofd:PhysicalBox>0 0 210 297"
            "</ofd:PhysicalBox></ofd:PageArea><ofd:PublicRes>PublicRes.xml</ofd:PublicRes>"
            f"</ofd:CommonData><ofd:Pages>{page_list}</ofd:Pages></ofd:Document>"
        ).encode(),
        "Doc_0/PublicRes.xml": f'<?xml version="1.0" encoding="UTF-8"?><ofd:Res {NS}/>'.encode(),
    }
    for i in range(pages):
        files[f"Doc_0/Pages/Page_{i}/Content.xml"] = (
            f'<?xml version="1.0" encoding="UTF-8"?><ofd:Page {NS}><ofd:Content><ofd:Layer ID="2">'
            f'<ofd:TextObject ID="3" Boundary="20 20 100 10" Font="1" Size="5">'
            f'<ofd:TextCode X="0" Y="5">第{i + 1}页</ofd:TextCode></ofd:TextObject>'
            "</ofd:Layer></ofd:Content></ofd:Page>"
        ).encode()
    return OfdPackage.from_files(files)
