"""Every participant-facing sentence the engine says, in Thai (first) and English.

Survey content lives in bot/surveys/*.yaml; this file holds the conversation around it.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

BANGKOK = ZoneInfo("Asia/Bangkok")
_TH_DAYS = ("จ.", "อ.", "พ.", "พฤ.", "ศ.", "ส.", "อา.")
_TH_MONTHS = ("ม.ค.", "ก.พ.", "มี.ค.", "เม.ย.", "พ.ค.", "มิ.ย.", "ก.ค.", "ส.ค.", "ก.ย.", "ต.ค.", "พ.ย.", "ธ.ค.")

NOTICE_VERSION = "2026-12-02"  # 2026-11-25 + the Delphi second round

MESSAGES: dict[str, tuple[str, str]] = {
    "welcome": (
        "สวัสดีค่ะ ยินดีต้อนรับสู่ “รับฟัง” ช่องทางแสดงความคิดเห็นต่อ (ร่าง) แผนพัฒนารัฐบาลดิจิทัลของประเทศไทย "
        "พ.ศ. 2566–2570 ของสำนักงานพัฒนารัฐบาลดิจิทัล (สพร.)",
        "Welcome to rabfang (“to listen”): have your say on Thailand's draft Digital Government "
        "Development Plan 2023–2027 by the Digital Government Development Agency (DGA).",
    ),
    "choose_lang": ("กรุณาเลือกภาษา", "Please choose a language"),
    "lang_set": ("ใช้ภาษาไทยแล้วค่ะ", "Language set to English."),
    "consent": (
        "ก่อนเริ่ม โปรดอ่านประกาศความเป็นส่วนตัวโดยย่อ:\n\n{notice}\n\nท่านยินยอมให้เก็บและใช้คำตอบของท่านตามนี้หรือไม่",
        "Before we start, please read this short privacy notice:\n\n{notice}\n\n"
        "Do you agree that your answers are kept and used as described?",
    ),
    "notice": (
        "• วัตถุประสงค์: นำความคิดเห็นของท่านไปประกอบการจัดทำ (ร่าง) แผนพัฒนารัฐบาลดิจิทัล พ.ศ. 2566–2570\n"
        "• ข้อมูลที่เก็บ: คำตอบ ข้อคิดเห็น กลุ่มผู้มีส่วนได้ส่วนเสีย ภูมิภาค ช่วงอายุ (ถ้าระบุ) และภาษา "
        "ไม่เก็บชื่อหรือเบอร์โทรศัพท์\n"
        "• ระยะเวลาเก็บ: {retention} วัน แล้วลบ\n"
        "• ก่อนให้ความยินยอม หรือหากไม่ยินยอม: เก็บเพียงภาษาที่เลือกและขั้นตอนที่ท่านอยู่ในการสนทนา "
        "คู่กับรหัสบัญชีแชตของท่าน เพื่อให้คุยต่อได้ และจะลบทิ้งหากท่านไม่ได้ทักมาอีกภายใน {unconsented} วัน\n"
        "• รอบที่ 2: สพร. อาจเชิญผู้ที่ตอบด้านใดครบแล้วให้ดูผลรวมของผู้ตอบทุกคน (ไม่ระบุตัวตน) แล้วยืนยันหรือเปลี่ยนคำตอบ "
        "(ไม่บังคับ) คำตอบทั้งสองรอบเก็บและใช้ตามประกาศนี้\n"
        "• ผู้เห็นข้อมูล: เจ้าหน้าที่ สพร. และนักวิเคราะห์ของโครงการ โดยเห็นเป็นรหัสแฝง (pseudonym) "
        "ไม่ใช่บัญชีของท่าน ผลที่เผยแพร่เป็นภาพรวมเท่านั้น\n"
        "• สิทธิของท่านตาม พ.ร.บ. คุ้มครองข้อมูลส่วนบุคคล พ.ศ. 2562: ขอดูข้อมูล (พิมพ์ “ข้อมูลของฉัน”) "
        "ขอลบและถอนความยินยอมได้ทุกเมื่อ (พิมพ์ “ลบข้อมูล”)\n"
        "• ติดต่อ: {contact}",
        "• Purpose: your views inform the draft Digital Government Development Plan 2023–2027.\n"
        "• What is kept: your answers and comments, stakeholder group, region, age band (if given) and "
        "language. No name or phone number.\n"
        "• How long: {retention} days, then deleted.\n"
        "• Before you agree, or if you don't: only your language choice and your place in this conversation "
        "are kept, with your chat account's id so that we can carry on, and deleted if you don't write again "
        "within {unconsented} days.\n"
        "• A second round: DGA may invite those who completed an area to see everyone's answers (anonymised) "
        "and keep or change theirs (optional); the answers of both rounds are kept and used as described here.\n"
        "• Who sees it: DGA staff and the project's analysts, under a pseudonym, not your account. "
        "Only aggregate results are published.\n"
        "• Your rights under Thailand's PDPA (B.E. 2562): see your data (type “my data”), delete it and "
        "withdraw consent at any time (type “delete my data”).\n"
        "• Contact: {contact}",
    ),
    "privacy_title": ("ประกาศความเป็นส่วนตัว (ฉบับ {version})", "Privacy notice (version {version})"),
    "consent_yes": ("ยินยอม", "I agree"),
    "consent_no": ("ไม่ยินยอม", "I do not agree"),
    "consent_thanks": ("ขอบคุณค่ะ ขอทราบข้อมูลเบื้องต้นสั้น ๆ 3 ข้อ", "Thank you. Three short questions about you first."),
    "declined": (
        "รับทราบค่ะ เราจะไม่บันทึกคำตอบใด ๆ ของท่าน สิ่งที่เก็บไว้มีเพียงภาษาที่เลือกและขั้นตอนที่ท่านอยู่ในการสนทนา "
        "คู่กับรหัสบัญชีแชตของท่าน เพื่อให้คุยต่อได้ และจะลบทิ้งหากท่านไม่ได้ทักมาอีกภายใน {days} วัน "
        "หากเปลี่ยนใจ กด “ยินยอม” หรือพิมพ์ “เริ่ม” ได้ทุกเมื่อ",
        "Understood: none of your answers will be recorded. We keep only your language choice and your place in "
        "this conversation, with your chat account's id so that we can carry on, and delete them if you don't "
        "write again within {days} days. If you change your mind, tap “I agree” or type “start”.",
    ),
    "ask_group": ("ท่านอยู่ในกลุ่มใด", "Which best describes you?"),
    "ask_region": ("ท่านอยู่ภูมิภาคใด", "Which region are you in?"),
    "ask_age": ("ช่วงอายุของท่าน (ไม่ตอบก็ได้ กด “ข้าม”)", "Your age band (optional: tap “Skip”)"),
    "menu": (
        "เลือกด้านที่ท่านต้องการแสดงความคิดเห็น (✓ = ตอบครบแล้ว)",
        "Choose an area to comment on (✓ = completed)",
    ),
    "area_intro": (
        "{intro}\n\nระดับความพร้อมดิจิทัล:\n{levels}\n\nกด “ย้อนกลับ” หรือพิมพ์ “ข้าม” ได้ตลอด",
        "{intro}\n\nThe maturity levels:\n{levels}\n\nYou can type “back” or “skip” at any time.",
    ),
    "progress": ("ความสามารถ {n}/{total} · {area}", "Capability {n}/{total} · {area}"),
    "progress_closing": ("คำถามท้ายด้าน {n}/{total} · {area}", "Closing question {n}/{total} · {area}"),
    # a level's button, the plan's level marked (fits LINE's 20 characters; the plan lines say what it is)
    "mark_current": ("{level} ✓ตามแผน", "{level} (plan)"),
    "mark_target": ("{level} ✓ตามแผน", "{level} (plan)"),
    "capability": ("ขีดความสามารถ: {text}", "{text}"),
    # a maturity level as every screen names it: its number and its stage, from the one level entry
    "level_named": ("ระดับ {level} {name}", "Level {level} {name}"),
    "current": ("ระดับปัจจุบัน: {level}", "Current level: {level}"),
    "target": ("เป้าหมายปี 2570: {level}", "2027 target: {level}"),
    # the card's heading: the capability's place in its area (the card's body names it)
    "card_heading": ("{n}/{total}", "{n}/{total}"),
    # "what do the levels mean": the button (within LINE's 20 characters) and the guide it shows
    "levels_button": ("ระดับหมายถึงอะไร?", "What levels mean?"),
    "levels_title": ("ระดับความพร้อมดิจิทัล", "The maturity levels"),
    "levels_about": ("ตัวอย่างจาก: {capability}", "Examples from: {capability}"),
    "levels_example": ("เช่น {text}", "e.g. {text}"),
    "previous_answer": ("(คำตอบเดิมของท่าน: {answer})", "(your answer so far: {answer})"),
    "type_text": (
        "(พิมพ์คำตอบได้ไม่เกิน {max} ตัวอักษร)",
        "(type your answer, up to {max} characters)",
    ),
    "too_long": (
        "ข้อความยาวเกินไป ({n} ตัวอักษร) กรุณาพิมพ์ไม่เกิน {max} ตัวอักษร",
        "That message is too long ({n} characters). Please keep it to {max} characters.",
    ),
    "pick_option": (
        "ขออภัย ไม่เข้าใจคำตอบนี้ กรุณากดปุ่ม หรือพิมพ์หมายเลข 1–{n}",
        "Sorry, I didn't understand. Please tap a button or type a number 1–{n}.",
    ),
    "empty_text": ("กรุณาพิมพ์คำตอบ หรือกด “ข้าม”", "Please type your answer, or tap “Skip”."),
    "unsupported": (
        "ขออภัย รับได้เฉพาะข้อความ กรุณาพิมพ์หรือกดปุ่มค่ะ",
        "Sorry, I can only read text. Please type or tap a button.",
    ),
    "forwarded": (
        "ขออภัย ข้อความที่ส่งต่อมาจะไม่นับเป็นคำตอบค่ะ กรุณาพิมพ์หรือกดปุ่มตอบเองนะคะ",
        "Sorry, forwarded messages are not taken as answers. Please type or tap your own answer.",
    ),
    "not_optional": (
        "ข้อนี้ข้ามไม่ได้ แต่เลือก “ไม่ทราบ” ได้",
        "This question can't be skipped, but you can choose “Don't know”.",
    ),
    "nothing_to_skip": ("ตอนนี้ไม่มีคำถามให้ข้าม", "There is no question to skip right now."),
    "at_start": ("นี่คือคำถามแรกแล้ว", "This is already the first question."),
    "changed": ("แก้คำตอบแล้ว: {question} → {choice}", "Answer changed: {question} → {choice}"),
    "stale": ("ปุ่มนี้ใช้ไม่ได้แล้ว กรุณาตอบคำถามล่าสุด", "That button is no longer valid; please answer the latest question."),
    "already_consented": ("ท่านให้ความยินยอมไว้แล้วค่ะ", "You have already given consent."),
    "area_done": (
        "ขอบคุณค่ะ ท่านตอบ{area}ครบแล้ว สรุปคำตอบของท่าน:",
        "Thank you, you have completed {area}. Your answers:",
    ),
    "summary_item": ("• {capability}: {answers}", "• {capability}: {answers}"),
    "sum_current": ("วันนี้ระดับ {pick} (ประเมินไว้ {plan})", "today {pick} (assessed {plan})"),
    "sum_target": ("ปี 2570 ระดับ {pick} (แผน {plan})", "2027 {pick} (plan {plan})"),
    "sum_rating": ("ข้อ {n}: {value}", "Q{n}: {value}"),
    "your_picks": ("ท่านตอบ: {picks}", "You answered: {picks}"),
    "summary_texts": ("ข้อคิดเห็นที่พิมพ์ไว้: {n} ข้อ", "Comments written: {n}"),
    "another": ("ต้องการแสดงความคิดเห็นด้านอื่นต่อหรือไม่", "Would you like to comment on another area?"),
    "all_done": (
        "ท่านตอบครบทั้ง 6 ด้านแล้ว ขอบคุณมากค่ะ ความคิดเห็นของท่านจะนำไปประกอบการจัดทำแผน",
        "You have completed every area. Thank you: your views will inform the plan.",
    ),
    "resume": ("ยินดีต้อนรับกลับค่ะ ทำต่อจากข้อเดิมนะคะ", "Welcome back, let's continue where you left off."),
    # followed by the commands one can type, listed from bot/engine/commands.py
    "help_intro": (
        "วิธีใช้: กดปุ่มหรือพิมพ์คำตอบ (เช่น 1–5 หรือ “ไม่ทราบ”) คำสั่งที่พิมพ์ได้:",
        "How to answer: tap a button or type (e.g. 1–5 or “don't know”). Things you can type:",
    ),
    "status": ("ความคืบหน้าของท่าน:", "Your progress:"),
    "status_area": ("• {area}: {state}", "• {area}: {state}"),
    "st_done": ("ตอบครบแล้ว", "completed"),
    "st_doing": ("ตอบแล้ว {n}/{total} ความสามารถ", "{n}/{total} capabilities answered"),
    "st_none": ("ยังไม่เริ่ม", "not started"),
    "status_none": ("ท่านยังไม่ได้เริ่มตอบแบบสอบถาม", "You haven't started a survey yet."),
    "confirm_delete": (
        "ยืนยันการลบข้อมูลทั้งหมดของท่าน (คำตอบ ข้อคิดเห็น และข้อมูลเบื้องต้น) หรือไม่ ลบแล้วกู้คืนไม่ได้",
        "Delete everything about you (answers, comments and profile)? This cannot be undone.",
    ),
    "delete_yes": ("ยืนยันลบ", "Yes, delete"),
    "delete_no": ("ยกเลิก", "Cancel"),
    "deleted": (
        "ลบข้อมูลทั้งหมดของท่านแล้ว และถอนความยินยอมแล้ว ขอบคุณที่ร่วมแสดงความคิดเห็นค่ะ ส่งข้อความใดก็ได้หากต้องการเริ่มใหม่",
        "Everything about you has been deleted and your consent withdrawn. Thank you. Send any message to start again.",
    ),
    "unsent": (
        "ท่านยกเลิกข้อความไปแล้ว จึงลบคำตอบจากข้อความนั้นให้แล้ว: {question}",
        "You unsent a message, so the answer it gave has been deleted: {question}",
    ),
    "unsent_later": (
        "ข้อนี้จำเป็นต้องตอบ ระบบจะถามอีกครั้งเมื่อท่านกลับไปที่ด้านนี้",
        "This question needs an answer: it will be asked again when you return to that area.",
    ),
    "edit_unclear": (
        "ข้อความที่แก้ไขใช้เป็นคำตอบของข้อนี้ไม่ได้ จึงยังเก็บคำตอบเดิมไว้: {question}",
        "Your edited message can't be used as the answer, so the earlier answer stays: {question}",
    ),
    "delete_cancelled": ("ยกเลิกการลบแล้วค่ะ", "Deletion cancelled."),
    "mydata": ("ข้อมูลของท่านที่เราเก็บไว้:", "The data we keep about you:"),
    "mydata_profile": (
        "ภาษา: {language} · กลุ่ม: {group} · ภูมิภาค: {region} · อายุ: {age}\nให้ความยินยอมเมื่อ: {consent_at}",
        "Language: {language} · Group: {group} · Region: {region} · Age: {age}\nConsent given: {consent_at}",
    ),
    "mydata_more": (
        "(ข้อความยาวแสดงเพียงต้นข้อความ ฉบับเต็มอยู่ในไฟล์แนบ หากแอปของท่านรับไฟล์ได้ "
        "หรือพิมพ์ “/mydata 1” ถึง “/mydata {pages}” เพื่อดูฉบับเต็มทีละหน้า)",
        "(long answers are shortened here. The full copy is in the attached file if your app can receive "
        "files, or type “/mydata 1” to “/mydata {pages}” to read it page by page.)",
    ),
    "mydata_page": ("ข้อมูลของท่าน ฉบับเต็ม หน้า {n}/{pages}", "Your data in full, page {n}/{pages}"),
    "mydata_none": ("เรายังไม่ได้เก็บข้อมูลใดของท่าน", "We don't hold any data about you."),
    "mydata_conversation": (
        "เราไม่ได้เก็บคำตอบหรือข้อมูลส่วนตัวใด ๆ ของท่าน เก็บไว้เพียงภาษาที่เลือก ({language}) "
        "และขั้นตอนที่ท่านอยู่ในการสนทนา คู่กับรหัสบัญชีแชตของท่าน เพื่อให้คุยต่อได้ "
        "และจะลบทิ้งหากท่านไม่ได้ทักมาอีกภายใน {days} วัน",
        "We hold none of your answers or personal details: only your language choice ({language}) and your "
        "place in this conversation, with your chat account's id so that we can carry on. They are deleted "
        "if you don't write again within {days} days.",
    ),
    "not_chosen": ("ยังไม่ได้เลือก", "not chosen yet"),
    "skip": ("ข้าม", "Skip"),
    "back": ("ย้อนกลับ", "Back"),
    "sessions": (
        "การประชุมระดมสมอง (Focus Group) ที่เปิดรับลงทะเบียน:",
        "Focus-group sessions open for registration:",
    ),
    "no_sessions": ("ขณะนี้ยังไม่มีการประชุมที่เปิดรับลงทะเบียน", "There are no sessions open for registration right now."),
    "sessions_later": (
        "ดูและลงทะเบียนการประชุมได้หลังจากให้ความยินยอมและตอบข้อมูลเบื้องต้นแล้ว",
        "You can see and join sessions once you have consented and answered the profile questions.",
    ),
    "register_n": ("ลงทะเบียน {n}", "Register {n}"),
    "unregister_n": ("ยกเลิก {n}", "Cancel {n}"),
    "registered_mark": ("✓ ลงทะเบียนแล้ว", "✓ registered"),
    "full_mark": ("เต็มแล้ว", "full"),
    "seats_left": ("ว่าง {n} ที่", "{n} seats left"),
    "registered": (
        "ลงทะเบียนแล้ว: {title}\nวันเวลา: {when}\nสถานที่: {place}\nเราจะส่งข้อความเตือนก่อนการประชุม",
        "You are registered: {title}\nWhen: {when}\nWhere: {place}\nWe will remind you before it starts.",
    ),
    "unregistered": ("ยกเลิกการลงทะเบียนแล้ว: {title}", "Registration cancelled: {title}"),
    "already_registered": ("ท่านลงทะเบียน {title} ไว้แล้ว", "You are already registered for {title}."),
    "session_full": ("ขออภัย {title} เต็มแล้ว", "Sorry, {title} is full."),
    "reminder": (
        "แจ้งเตือน: {title}\nเริ่ม {when}\nสถานที่: {place}",
        "Reminder: {title}\nStarts {when}\nWhere: {place}",
    ),
    "session_cancelled": (
        "ขออภัย การประชุม {title} ({when}) ถูกยกเลิกแล้ว",
        "Sorry, the session {title} ({when}) has been cancelled.",
    ),
    "session_moved": (
        "เปลี่ยนเวลา: {title} ย้ายไปเป็น {when}\nสถานที่: {place}",
        "Rescheduled: {title} now starts {when}\nWhere: {place}",
    ),
    "nudge": (
        "ท่านยังตอบ{area}ไม่ครบ (ตอบแล้ว {done}/{total} ความสามารถ) พิมพ์ “เริ่ม” เพื่อทำต่อจากข้อเดิมได้เลยค่ะ",
        "You haven't finished {area} yet ({done} of {total} capabilities answered). Type “start” to continue "
        "where you left off.",
    ),
    "broadcast_report": (
        "ประกาศ #{id} ส่งเสร็จแล้ว: สำเร็จ {sent} · ไม่สำเร็จ {failed} · ถูกบล็อก {blocked}",
        "Broadcast #{id} finished: sent {sent} · failed {failed} · blocked {blocked}",
    ),
    "flood": (
        "ส่งข้อความเร็วเกินไป ข้อความล่าสุดบางข้อความไม่ได้บันทึก กรุณารอสักครู่แล้วตอบใหม่ค่ะ",
        "You're sending messages too fast; some of your last messages were not recorded. Please wait a moment and answer again.",
    ),
    "try_later": (
        "ขออภัย ระบบขัดข้องชั่วคราว จึงยังบันทึกข้อความล่าสุดของท่านไม่ได้ ระบบจะบันทึกให้เองเมื่อกลับมาใช้งานได้ "
        "ไม่ต้องส่งซ้ำ หากไม่มีคำถามถัดไปภายในไม่กี่นาที กรุณาลองใหม่ภายหลัง",
        "Sorry, we can't save your last message right now. It will be saved automatically as soon as we can: "
        "no need to send it again. If the next question doesn't come within a few minutes, please try again later.",
    ),
    "try_later_lost": (
        "ขออภัย ระบบบันทึกคำตอบไม่ได้ชั่วคราว คำตอบล่าสุดยังไม่ถูกบันทึก กรุณาลองใหม่ภายหลัง",
        "Sorry, we can't save answers right now; your last answer was not saved. Please try again later.",
    ),
    "not_given": ("ไม่ระบุ", "not given"),
    "dk_short": ("ไม่ทราบ", "don't know"),
    # ---- a Delphi round 2 (bot/engine/delphi.py, the invitation in bot/outreach.py) ----
    "delphi_invite": (
        "รอบที่ 2 ของ{area}เปิดแล้ว: ดูคำตอบรอบแรกของท่านเทียบกับผลรวมของผู้ตอบทุกคน (ไม่ระบุตัวตน) "
        "แล้วยืนยันหรือเปลี่ยนคำตอบ{closes} ใช้เวลาไม่กี่นาที ไม่ตอบก็ได้ คำตอบรอบแรกของท่านยังนับอยู่",
        "Round 2 of {area} is open: see your round-1 answers beside everyone's (anonymised) and keep or "
        "change them{closes}. It takes a few minutes and is optional; your round-1 answers still count.",
    ),
    "delphi_closes": (" (ปิดรับ {when})", " (until {when})"),
    "delphi_start": ("เริ่มรอบที่ 2", "Start round 2"),
    "delphi_menu_button": ("รอบ 2 · {area}", "Round 2 · {area}"),
    "delphi_intro": (
        "รอบที่ 2 · {area}\nแต่ละความสามารถ ท่านจะเห็นคำตอบรอบแรกของท่านเทียบกับผลรวมของผู้ตอบทุกคน "
        "(ค่ามัธยฐาน ช่วงครึ่งกลางของคำตอบ และจำนวนผู้ตอบ) กด “คงเดิม” หรือเลือกใหม่ "
        "หากเปลี่ยน บอกเหตุผลสั้น ๆ ได้ (ไม่บังคับ)",
        "Round 2 · {area}\nFor each capability you see your round-1 answer beside everyone's (the median, the "
        "middle half of the answers and how many answered). Tap “Keep” or pick again; if you change it, you "
        "may say why (optional).",
    ),
    "delphi_progress": ("รอบที่ 2 · ความสามารถ {n}/{total} · {area}", "Round 2 · capability {n}/{total} · {area}"),
    "delphi_yours": ("คำตอบรอบแรกของท่าน: {answer}", "Your round-1 answer: {answer}"),
    "delphi_yours_now": ("คำตอบรอบที่ 2 ของท่านตอนนี้: {answer}", "Your round-2 answer so far: {answer}"),
    "delphi_group": (
        "ผลรวมรอบแรก (n = {n}): มัธยฐาน {median} · ครึ่งกลางของคำตอบ (IQR) {q1}–{q3}",
        "Everyone in round 1 (n = {n}): median {median} · middle half (IQR) {q1}–{q3}",
    ),
    "delphi_group_none": ("ผลรวมรอบแรก: ยังไม่มีคำตอบ", "Everyone in round 1: no answers yet"),
    "delphi_none": ("ไม่ได้ตอบ", "none"),
    "delphi_keep": ("คงเดิม {answer}", "Keep {answer}"),
    "delphi_reason": (
        "ท่านเปลี่ยนจาก {old} เป็น {new} เพราะเหตุใด (ไม่บังคับ) พิมพ์เหตุผล หรือกด “ข้าม”",
        "You changed {old} to {new}: why? (optional) Type your reason, or tap “Skip”.",
    ),
    "delphi_pick": ("กรุณากด “คงเดิม” หรือเลือกคำตอบ", "Please tap “Keep” or pick an answer."),
    "delphi_done": (
        "ขอบคุณค่ะ ท่านตอบรอบที่ 2 ของ{area}ครบแล้ว: คงเดิม {kept} ข้อ เปลี่ยน {changed} ข้อ",
        "Thank you, you have completed round 2 of {area}: {kept} kept, {changed} changed.",
    ),
    "delphi_closed": (
        "ขออภัย รอบที่ 2 ของ{area}ปิดรับคำตอบแล้ว จึงไม่ได้บันทึกคำตอบนี้ ขอบคุณที่สนใจค่ะ คำตอบรอบแรกของท่านยังนับอยู่",
        "Sorry, round 2 of {area} has closed, so this answer was not recorded. Thank you: your round-1 answers "
        "still count.",
    ),
    "delphi_over": (
        "ขออภัย รอบที่ 2 ของ{area}ปิดรับคำตอบแล้ว ขอบคุณที่สนใจค่ะ คำตอบรอบแรกของท่านยังนับอยู่",
        "Sorry, round 2 of {area} has closed. Thank you for your interest: your round-1 answers still count.",
    ),
    "delphi_not_eligible": (
        "รอบที่ 2 ของ{area}สำหรับผู้ที่ตอบรอบแรกครบแล้ว กรุณาตอบด้านนี้ให้ครบก่อนค่ะ",
        "Round 2 of {area} is for those who completed round 1: please complete the area first.",
    ),
    "delphi_round_label": ("{question} (รอบที่ {round})", "{question} (round {round})"),
    # ---- live focus-group sessions (issue 16): check-in, the room's questions, quota --------------
    "live_unknown": (
        "ไม่พบการประชุมที่ใช้รหัสนี้ หรือการประชุมจบแล้ว กรุณาตรวจรหัสบนจออีกครั้ง",
        "No live session has this code, or it has ended. Please check the code on the screen.",
    ),
    "live_first": (
        "ยินดีต้อนรับสู่ “{title}” ก่อนเข้าร่วม ขอเวลาตอบคำถามสั้น ๆ สองสามข้อค่ะ",
        "Welcome to “{title}”. A few quick questions first, then you are checked in.",
    ),
    "live_checked_in": (
        "ลงชื่อเข้าร่วม “{title}” แล้วค่ะ เมื่อผู้ดำเนินการเปิดหัวข้อ คำถามจะมาที่แชทนี้ ตอบได้ด้วยการแตะ",
        "You are checked in to “{title}”. When the facilitator opens a capability, its questions come to "
        "this chat: answer with a tap.",
    ),
    "live_already": ("ท่านลงชื่อเข้าร่วม “{title}” ไว้แล้วค่ะ", "You are already checked in to “{title}”."),
    "live_mark": (" (ในห้องประชุม)", " (in the room)"),
    "live_heading": ("ในห้องประชุม · {title}", "In the room · {title}"),
    "live_comment": (
        "ขอบคุณค่ะ หากมีความเห็นเพิ่มเติมเกี่ยวกับหัวข้อนี้ พิมพ์ส่งได้เลย (ไม่บังคับ)",
        "Thank you. Anything to add about this capability? Type it here (optional).",
    ),
    "live_thanks": ("ขอบคุณค่ะ บันทึกคำตอบแล้ว", "Thank you: your answer is saved."),
    "live_comment_saved": ("ขอบคุณค่ะ บันทึกความเห็นแล้ว", "Thank you: your comment is saved."),
    "live_closed": (
        "ขออภัยค่ะ หัวข้อนี้ปิดรับคำตอบในห้องประชุมแล้ว ขอบคุณที่ร่วมแสดงความคิดเห็น ท่านยังแสดงความเห็นในแบบสอบถามได้ตามปกติ",
        "Sorry, answers to this capability are closed for the session. Thank you for taking part: "
        "you can still give your views in the survey as usual.",
    ),
    "quota_refused": (
        "ไม่ได้ส่ง: {what} ต้องใช้ข้อความ LINE {need} ข้อความ แต่โควตาเดือนนี้เหลือ {left} "
        "(เพิ่มโควตาใน LINE Official Account Manager หรือส่งทาง Telegram)",
        "Not sent: {what} needs {need} LINE messages but only {left} are left in this month's quota "
        "(raise it in LINE Official Account Manager, or reach them on Telegram).",
    ),
    "quota_low": (
        "หมายเหตุ: หลังส่ง {what} โควตาข้อความ LINE เดือนนี้จะเหลือ {left}",
        "Note: after {what}, {left} LINE messages are left in this month's quota.",
    ),
    "live_wave": (
        "ส่งคำถามของ “{item}” ถึงผู้ลงชื่อเข้าร่วม {sent} คน (ไม่สำเร็จ {failed})",
        "The questions of “{item}” went to {sent} checked-in participant(s) ({failed} failed).",
    ),
}


def tr(lang: str | None, key: str, **values: object) -> str:
    """The message `key` in `lang`; both languages, Thai first, while the language is unknown."""
    th, en = MESSAGES[key]
    if lang is None:
        return f"{th.format(**values)}\n\n{en.format(**values)}"
    return (en if lang == "en" else th).format(**values)


def when(dt: datetime, lang: str | None) -> str:
    """A moment in Bangkok time, the Thai way (`จ. 1 ธ.ค. 2569 เวลา 09:00 น.`, Buddhist Era) or English."""
    local = dt.astimezone(BANGKOK)
    if lang == "en":
        return local.strftime("%a %-d %b %Y, %H:%M")
    day, month = _TH_DAYS[local.weekday()], _TH_MONTHS[local.month - 1]
    return f"{day} {local.day} {month} {local.year + 543} เวลา {local:%H:%M} น."
